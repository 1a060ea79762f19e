"""`POST /v1/chat/completions`: OpenAI-compatible, streamed or not, relayed as bytes."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from service.api.deps import CurrentClient, MeteringDep, RelayDep, SettingsDep, UpstreamDep
from service.api.relay import relay_request
from service.api.schemas import CHAT_COMPLETIONS_DOC
from service.guardrails import Endpoint

router = APIRouter(prefix="/v1", tags=["chat"])


@router.post("/chat/completions", **CHAT_COMPLETIONS_DOC)
async def create_chat_completion(
    request: Request,
    *,
    client: CurrentClient,
    settings: SettingsDep,
    upstream: UpstreamDep,
    metering: MeteringDep,
    relay: RelayDep,
) -> Response:
    return await relay_request(
        request, Endpoint.CHAT, client=client, settings=settings, upstream=upstream, metering=metering, relay=relay
    )
