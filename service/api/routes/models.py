"""`GET /v1/models`: the models this service allows, in OpenAI's list format."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from service.api.deps import CurrentClient, SettingsDep
from service.api.responses import error_responses

router = APIRouter(prefix="/v1", tags=["models"])


@router.get("/models", responses=error_responses(401))
async def list_models(_: CurrentClient, settings: SettingsDep) -> dict[str, Any]:
    return {
        "object": "list",
        "data": [
            {"id": model, "object": "model", "created": 0, "owned_by": "openai"} for model in settings.allowed_models
        ],
    }
