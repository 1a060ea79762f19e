"""Admin operations. `POST /v1/admin/cache/invalidate`: new information was added, so every cached
answer derived from the old information goes, in one step (the cache's namespace version is bumped).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from service.api.deps import CurrentClient, MeteringDep, SettingsDep
from service.api.schemas import CACHE_INVALIDATE_DOC
from service.errors import InvalidRequest, PermissionDenied, ServiceUnavailable
from service.state import StateUnavailable

router = APIRouter(prefix="/v1/admin", tags=["admin"])


@router.post("/cache/invalidate", **CACHE_INVALIDATE_DOC)
async def invalidate_cache(client: CurrentClient, settings: SettingsDep, metering: MeteringDep) -> dict[str, Any]:
    if client.id not in settings.admin_client_ids:
        raise PermissionDenied("Only admin clients (ADMIN_CLIENT_IDS) can invalidate the cache")
    if metering.cache is None:
        raise InvalidRequest("The response cache is disabled (CACHE_ENABLED=false)", code="cache_disabled")
    try:
        version = await metering.cache.bump_namespace()
    except StateUnavailable:
        raise ServiceUnavailable("The cache cannot be invalidated while Redis is down; try again") from None
    return {"object": "cache.namespace", "version": version}
