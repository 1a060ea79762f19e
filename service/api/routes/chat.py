"""`POST /v1/chat/completions`: OpenAI-compatible, streamed or not, relayed as bytes."""

from __future__ import annotations

from contextlib import AsyncExitStack
from typing import Any

import orjson
import structlog
from fastapi import APIRouter, Request
from starlette.background import BackgroundTask
from starlette.responses import Response, StreamingResponse

from service import moderation
from service.api.body import read_json_object
from service.api.deps import CurrentClient, MeteringDep, SettingsDep, StreamLimitsDep, UpstreamDep
from service.api.metering import MeteredCall
from service.api.responses import error_responses, streamed_or_json
from service.guardrails import ChatRequest, prepare_chat_request
from service.middleware import annotate
from service.streaming import StreamLimits, relay_events

router = APIRouter(prefix="/v1", tags=["chat"])
log = structlog.get_logger(__name__)

SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


@router.post(
    "/chat/completions",
    responses=streamed_or_json("A chat.completion, or chat.completion.chunk events when streamed")
    | error_responses(400, 401, 408, 413, 429, 502, 503, 504),
)
async def create_chat_completion(
    request: Request,
    *,
    client: CurrentClient,
    settings: SettingsDep,
    upstream: UpstreamDep,
    metering: MeteringDep,
    stream_limits: StreamLimitsDep,
) -> Response:
    sent = await read_json_object(request, max_bytes=settings.max_body_bytes, max_depth=settings.max_json_depth)
    chat = prepare_chat_request(sent, settings, client.id)
    annotate(request, model=chat.model, stream=chat.stream)
    if settings.moderation_enabled:
        await moderation.check_input(upstream, chat.input_text, settings.moderation_model)
    # Cache lookup, rate limits, budget reservation and the fleet's upstream guard (service.api.metering).
    metered = await metering.begin(chat, client.id, request.headers)
    annotate(request, cache=metered.lookup.status.value)
    if metered.hit:
        return metered.hit_response(SSE_HEADERS)
    if chat.stream:
        return await _stream(chat, stream_limits, upstream, metered=metered)
    try:
        async with upstream.chat_completion(chat.params) as response:
            body = await response.read()
            status = response.http_response.status_code
            upstream_headers = response.headers
    except BaseException as exc:
        await metered.failed(exc)
        raise
    usage = _usage_of_completion(body)  # on the log line and the metrics via metered (service.api.metering)
    if status == 200:
        await metered.succeeded(usage, body, upstream_headers)
    else:
        await metered.failed()
    return Response(body, status_code=status, media_type="application/json", headers=metered.headers())


def _usage_of_completion(body: bytes) -> dict[str, Any] | None:
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        log.warning("upstream_body_not_json", size=len(body))
        return None
    usage = data.get("usage") if isinstance(data, dict) else None
    return usage if isinstance(usage, dict) else None


async def _stream(
    chat: ChatRequest,
    limits: StreamLimits,
    upstream: UpstreamDep,
    *,
    metered: MeteredCall,
) -> Response:
    # Opened here, not inside the generator, so an upstream error still gets a proper status code.
    resources = AsyncExitStack()
    try:
        response = await resources.enter_async_context(upstream.chat_completion(chat.params))
    except BaseException as exc:
        await metered.failed(exc)
        raise
    metered.watch_stream()

    async def events() -> Any:
        try:
            async for event in relay_events(
                response.iter_bytes(),
                include_usage=chat.include_usage,
                on_usage=metered.on_stream_usage,
                limits=limits,
            ):
                metered.on_stream_event(event)
                yield event
        finally:
            metered.stream_finished(response.headers)
            await resources.aclose()

    return StreamingResponse(
        events(),
        media_type="text/event-stream",
        headers={**SSE_HEADERS, **metered.headers()},
        background=BackgroundTask(resources.aclose),
    )
