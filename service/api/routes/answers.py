"""`POST /v1/answers`: retrieval Q&A over the bundled knowledge base (service/answers).

Step 1 embeds the question (cached, batched with concurrent questions) and ranks the knowledge base's
chunks; step 2 asks a chat model for an answer grounded in the top chunks. Step 2 is an ordinary chat
completion and goes through the same metering as /v1/chat/completions: response cache, rate limits,
spend budget and usage. It is sent at temperature 0, so identical questions over the same index version
are answered from the cache.

Streamed (`"stream": true`), the response is server-sent events: one `answer.context` event with the
retrieved chunks, the model's `chat.completion.chunk` events as OpenAI sends them, then one `answer`
event with the whole answer, citations, usage and cost, and `data: [DONE]`.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterable, Mapping
from contextlib import AsyncExitStack
from typing import Annotated, Any

import orjson
import structlog
from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field, StrictBool, ValidationError
from starlette.background import BackgroundTask
from starlette.responses import Response, StreamingResponse

from service import moderation
from service.answers.engine import AnswerEngine
from service.answers.index import Index
from service.answers.prompt import NOT_FOUND, build_messages, cited_hits, is_not_found
from service.answers.retrieval import Hit
from service.api.deps import CurrentClient, MeteringDep, SettingsDep, UpstreamDep
from service.api.metering import MeteredCall, Metering
from service.cache import replay_events
from service.errors import InvalidRequest, UpstreamError, validation_error
from service.guardrails import ChatRequest, parse_json_object, prepare_chat_request, read_limited_body
from service.middleware import annotate
from service.streaming import DONE, relay_events, sse_event

router = APIRouter(prefix="/v1", tags=["answers"])
log = structlog.get_logger(__name__)

SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


def get_answer_engine(request: Request) -> AnswerEngine:
    engine: AnswerEngine | None = getattr(request.app.state, "answers", None)
    if engine is None:
        raise InvalidRequest("Retrieval Q&A is disabled on this service (ANSWERS_ENABLED=false)", code="not_enabled")
    return engine


AnswerEngineDep = Annotated[AnswerEngine, Depends(get_answer_engine)]


class AnswerBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    question: str = Field(min_length=1)
    top_k: int | None = Field(None, ge=1)
    model: str | None = None
    stream: StrictBool = False
    user: str | None = Field(None, max_length=256)


def _parse(raw: bytes, settings: SettingsDep) -> AnswerBody:
    try:
        body = AnswerBody.model_validate(parse_json_object(raw))
    except ValidationError as exc:
        raise validation_error(exc.errors()) from None
    if not body.question.strip():
        raise InvalidRequest("question is empty; send the question as text", param="question")
    if len(body.question) > settings.answers_max_question_chars:
        raise InvalidRequest(
            f"question has {len(body.question)} characters; this service accepts at most "
            f"{settings.answers_max_question_chars}",
            param="question",
            code="question_too_long",
        )
    if body.top_k is not None and body.top_k > settings.answers_max_top_k:
        raise InvalidRequest(f"top_k must be at most {settings.answers_max_top_k}", param="top_k")
    return body


@router.post("/answers")
async def create_answer(
    request: Request,
    *,
    client: CurrentClient,
    settings: SettingsDep,
    upstream: UpstreamDep,
    metering: MeteringDep,
    engine: AnswerEngineDep,
) -> Response:
    raw = await read_limited_body(request.stream(), request.headers.get("content-length"), settings.max_body_bytes)
    body = _parse(raw, settings)
    if settings.moderation_enabled:
        await moderation.check_input(upstream, body.question, settings.moderation_model)
    started = time.monotonic()
    index, hits = await engine.search(body.question, body.top_k or settings.answers_top_k)
    search_ms = round((time.monotonic() - started) * 1000, 1)
    annotate(request, index_version=index.version, chunks=len(hits), search_ms=search_ms)
    answer = _Answer(index, hits, metering, search_ms)
    if not hits:  # nothing similar enough (ANSWERS_MIN_SIMILARITY): no model call to pay for
        model = body.model or settings.default_model
        return _respond_without_model(answer, model, body.stream)

    payload: dict[str, Any] = {
        "model": body.model or settings.default_model,
        "messages": build_messages(body.question, hits, index.version),
        "temperature": 0,
        "max_completion_tokens": settings.answers_max_tokens,
        "stream": body.stream,
    }
    if body.user is not None:
        payload["user"] = body.user
    chat = prepare_chat_request(payload, settings, client.id)
    annotate(request, model=chat.model, stream=chat.stream)
    metered = await metering.begin(chat, client.id, request.headers)
    annotate(request, cache=metered.lookup.status.value)
    if metered.hit:
        completion = metered.lookup.completion
        if chat.stream:
            events = _iterate(replay_events(completion, include_usage=True))
            return _sse(answer.stream(events, chat.model, cached=True), metered.headers())
        return _json(answer.payload(_content(completion), completion.get("usage"), chat.model, cached=True), metered)
    if chat.stream:
        return await _stream(request, chat, settings=settings, upstream=upstream, metered=metered, answer=answer)
    try:
        async with upstream.chat_completion(chat.params) as response:
            raw_completion = await response.read()
            status = response.http_response.status_code
            upstream_headers = response.headers
    except BaseException:
        await metered.failed()
        raise
    result: Any = orjson.loads(raw_completion) if status == 200 else None
    if not isinstance(result, dict):
        await metered.failed()
        raise UpstreamError(f"OpenAI returned an unexpected answer ({status}); try again")
    usage = result.get("usage")
    annotate(
        request,
        prompt_tokens=(usage or {}).get("prompt_tokens"),
        completion_tokens=(usage or {}).get("completion_tokens"),
    )
    await metered.succeeded(usage, raw_completion, upstream_headers)
    return _json(answer.payload(_content(result), usage, chat.model, cached=False), metered)


class _Answer:
    """Builds the response for one question from the model's text, whatever path produced it."""

    def __init__(self, index: Index, hits: list[Hit], metering: Metering, search_ms: float) -> None:
        self.index = index
        self.hits = hits
        self.metering = metering
        self.search_ms = search_ms

    def payload(self, text: str, usage: Mapping[str, Any] | None, model: str, *, cached: bool) -> dict[str, Any]:
        counts = dict(usage or {})
        details = counts.get("prompt_tokens_details") or {}
        cost_nanos = self.metering.prices.price_for(model).cost_nanos(
            int(counts.get("prompt_tokens") or 0),
            int(details.get("cached_tokens") or 0) if isinstance(details, Mapping) else 0,
            int(counts.get("completion_tokens") or 0),
        )
        return {
            "object": "answer",
            "model": model,
            "answer": text,
            "found": not is_not_found(text),
            "citations": [hit.as_json() for hit in cited_hits(text, self.hits)],
            "context": [hit.as_json() for hit in self.hits],
            "index_version": self.index.version,
            "cached": cached,
            "usage": counts,
            # a cached answer was paid for once already: it costs nothing now
            "cost_usd": 0.0 if cached else cost_nanos / 1e9,
            "search_ms": self.search_ms,
        }

    def context_event(self) -> bytes:
        return sse_event(
            {
                "object": "answer.context",
                "index_version": self.index.version,
                "context": [h.as_json() for h in self.hits],
            }
        )

    async def stream(self, events: AsyncIterator[bytes], model: str, *, cached: bool) -> AsyncIterator[bytes]:
        """Context first, the model's chunks as they come, then the assembled answer and [DONE]."""
        yield self.context_event()
        text: list[str] = []
        usage: dict[str, Any] | None = None
        finished = False
        async for item in events:
            forward: list[bytes] = []
            for event in item.split(b"\n\n"):
                data = _data_of(event)
                if data is None:  # a heartbeat comment, or [DONE] (ours comes after the answer event)
                    if event.strip() and event.strip() != DONE.strip():
                        forward.append(event)
                    continue
                if "error" in data:
                    yield event + b"\n\n"
                    return
                for choice in data.get("choices") or ():
                    text.append((choice.get("delta") or {}).get("content") or "")
                    finished = finished or bool(choice.get("finish_reason"))
                if isinstance(data.get("usage"), dict):
                    usage = data["usage"]
                forward.append(event)
            if forward:
                yield b"\n\n".join(forward) + b"\n\n"
        if finished:
            yield sse_event(self.payload("".join(text), usage, model, cached=cached))
            yield DONE


def _data_of(event: bytes) -> dict[str, Any] | None:
    line = event.strip()
    if not line.startswith(b"data:") or line == DONE.strip():
        return None
    try:
        data = orjson.loads(line.removeprefix(b"data:").strip())
    except orjson.JSONDecodeError:
        return None
    return data if isinstance(data, dict) else None


def _content(completion: Mapping[str, Any]) -> str:
    choices = completion.get("choices") or [{}]
    return str((choices[0].get("message") or {}).get("content") or "")


async def _iterate(events: Iterable[bytes]) -> AsyncIterator[bytes]:
    for event in events:
        yield event


def _json(payload: dict[str, Any], metered: MeteredCall) -> Response:
    return Response(orjson.dumps(payload), media_type="application/json", headers=metered.headers())


def _sse(
    events: AsyncIterator[bytes], headers: Mapping[str, str], background: BackgroundTask | None = None
) -> Response:
    return StreamingResponse(
        events, media_type="text/event-stream", headers={**SSE_HEADERS, **headers}, background=background
    )


def _respond_without_model(answer: _Answer, model: str, stream: bool) -> Response:
    payload = answer.payload(
        NOT_FOUND, {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0}, model, cached=False
    )
    if not stream:
        return Response(orjson.dumps(payload), media_type="application/json")

    async def events() -> AsyncIterator[bytes]:
        yield answer.context_event()
        yield sse_event(payload)
        yield DONE

    return _sse(events(), {})


async def _stream(
    request: Request,
    chat: ChatRequest,
    *,
    settings: SettingsDep,
    upstream: UpstreamDep,
    metered: MeteredCall,
    answer: _Answer,
) -> Response:
    # Opened here, not inside the generator, so an upstream error still gets a proper status code.
    resources = AsyncExitStack()
    try:
        response = await resources.enter_async_context(upstream.chat_completion(chat.params))
    except BaseException:
        await metered.failed()
        raise
    metered.watch_stream()

    def on_usage(usage: dict[str, Any]) -> None:
        annotate(request, prompt_tokens=usage.get("prompt_tokens"), completion_tokens=usage.get("completion_tokens"))
        metered.on_stream_usage(usage)

    async def relayed() -> AsyncIterator[bytes]:
        try:
            async for event in relay_events(
                response.iter_bytes(),
                include_usage=True,
                on_usage=on_usage,
                heartbeat_seconds=settings.sse_heartbeat_seconds,
                max_seconds=settings.max_stream_seconds,
            ):
                metered.on_stream_event(event)
                yield event
        finally:
            metered.stream_finished(response.headers)
            await resources.aclose()

    return _sse(answer.stream(relayed(), chat.model, cached=False), metered.headers(), BackgroundTask(resources.aclose))
