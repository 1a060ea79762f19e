"""`POST /v1/chat/completions`: OpenAI-compatible, streamed or not, relayed as bytes."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from service.api.deps import CurrentClient, RelayDep
from service.api.schemas import CHAT_COMPLETIONS_DOC
from service.guardrails import Endpoint

router = APIRouter(prefix="/v1", tags=["chat"])


@router.post("/chat/completions", **CHAT_COMPLETIONS_DOC)
async def create_chat_completion(request: Request, client: CurrentClient, relay: RelayDep) -> Response:
    return await relay.handle(request, Endpoint.CHAT, client)
