"""`POST /v1/responses`: the Responses API (OpenAI recommends it for new work), streamed or not, relayed as bytes."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from service.api.deps import CurrentClient, RelayDep
from service.api.schemas import RESPONSES_DOC
from service.guardrails import Endpoint

router = APIRouter(prefix="/v1", tags=["responses"])


@router.post("/responses", **RESPONSES_DOC)
async def create_response(request: Request, client: CurrentClient, relay: RelayDep) -> Response:
    return await relay.handle(request, Endpoint.RESPONSES, client)
