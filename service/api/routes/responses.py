"""`POST /v1/responses`: the Responses API (OpenAI recommends it for new work), streamed or not, relayed as bytes."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from service.api.deps import CurrentClient, MeteringDep, RelayDep, SettingsDep, UpstreamDep
from service.api.relay import relay_request
from service.api.schemas import RESPONSES_DOC
from service.guardrails import Endpoint

router = APIRouter(prefix="/v1", tags=["responses"])


@router.post("/responses", **RESPONSES_DOC)
async def create_response(
    request: Request,
    *,
    client: CurrentClient,
    settings: SettingsDep,
    upstream: UpstreamDep,
    metering: MeteringDep,
    relay: RelayDep,
) -> Response:
    return await relay_request(
        request, Endpoint.RESPONSES, client=client, settings=settings, upstream=upstream, metering=metering, relay=relay
    )
