"""`GET /v1/usage`: the caller's tokens, spend, cache hits and saved spend, today and this month."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from service.api.deps import CurrentClient, MeteringDep, SettingsDep
from service.api.schemas import USAGE_DOC
from service.errors import PermissionDenied, ServiceUnavailable
from service.state import StateUnavailable

router = APIRouter(prefix="/v1", tags=["usage"])


@router.get("/usage", **USAGE_DOC)
async def get_usage(
    client: CurrentClient, settings: SettingsDep, metering: MeteringDep, client_id: str | None = None
) -> dict[str, Any]:
    """Your own figures; an admin client sees every client (or one, with `?client_id=`)."""
    is_admin = client.id in settings.admin_client_ids
    if client_id is not None and client_id != client.id and not is_admin:
        raise PermissionDenied("Only admin clients can read another client's usage", param="client_id")
    try:
        if is_admin and client_id is None:
            return {"object": "list", "data": await metering.usage.report_all()}
        return await metering.usage.report(client_id or client.id)
    except StateUnavailable:
        raise ServiceUnavailable("Usage figures are unavailable while Redis is down; try again shortly") from None
