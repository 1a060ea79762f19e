"""`GET /v1/models` and `GET /v1/models/{model}`: the models this service serves, in OpenAI's format."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from service.api.deps import CurrentClient, SettingsDep
from service.api.schemas import MODEL_RETRIEVE_DOC, MODELS_LIST_DOC
from service.guardrails import lookup_model, served_models

router = APIRouter(prefix="/v1", tags=["models"])


@router.get("/models", **MODELS_LIST_DOC)
async def list_models(_: CurrentClient, settings: SettingsDep) -> dict[str, Any]:
    return {"object": "list", "data": served_models(settings)}


@router.get("/models/{model}", **MODEL_RETRIEVE_DOC)
async def retrieve_model(model: str, _: CurrentClient, settings: SettingsDep) -> dict[str, Any]:
    """One model served here; 404 `model_not_found`, as OpenAI answers, for any other."""
    return lookup_model(settings, model)
