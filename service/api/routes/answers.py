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

import re
import time
from collections.abc import AsyncIterator, Iterable, Mapping
from typing import Annotated, Any

import orjson
import structlog
from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field, StrictBool, ValidationError
from starlette.responses import Response, StreamingResponse

from service import moderation
from service.answers.engine import AnswerEngine
from service.answers.prompt import NOT_FOUND, build_messages
from service.answers.reply import AnswerReply, content_of
from service.api.body import read_json_object
from service.api.deps import CurrentClient, MeteringDep, RelayDep, SettingsDep, UpstreamDep
from service.api.metering import MeteredCall
from service.api.schemas import ANSWERS_DOC
from service.cache import replay_events
from service.errors import InvalidRequest, UpstreamError, validation_error
from service.guardrails import prepare_chat_request
from service.guardrails.models import allowed_spec
from service.middleware import annotate
from service.streaming import DONE, SSE_HEADERS, sse_event

router = APIRouter(prefix="/v1", tags=["answers"])
log = structlog.get_logger(__name__)


def get_answer_engine(request: Request) -> AnswerEngine:
    engine: AnswerEngine | None = getattr(request.app.state, "answers", None)
    if engine is None:
        raise InvalidRequest("Retrieval Q&A is disabled on this service (ANSWERS_ENABLED=false)", code="not_enabled")
    return engine


AnswerEngineDep = Annotated[AnswerEngine, Depends(get_answer_engine)]

# A question needs one character that is not blank. "Blank" is spelled out (Python's whitespace and that of
# JSON Schema's regular expressions differ) so this check and the OpenAPI document's `pattern` agree.
NOT_BLANK = r"[^\t\n\x0b\x0c\r \x1c-\x1f\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff]"
_NOT_BLANK = re.compile(NOT_BLANK)


class AnswerBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    question: str = Field(min_length=1)
    top_k: int | None = Field(None, ge=1)
    model: str | None = None
    stream: StrictBool = False
    user: str | None = Field(None, max_length=256)


def _parse(raw: dict[str, Any], settings: SettingsDep) -> AnswerBody:
    try:
        body = AnswerBody.model_validate(raw)
    except ValidationError as exc:
        raise validation_error(exc.errors()) from None
    if not _NOT_BLANK.search(body.question):
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
    # Before the question is embedded (and even when nothing is found): an unknown model is a 404, never an answer.
    allowed_spec(body.model or settings.default_model, settings.allowed_models)
    return body


@router.post("/answers", **ANSWERS_DOC)
async def create_answer(
    request: Request,
    *,
    client: CurrentClient,
    settings: SettingsDep,
    upstream: UpstreamDep,
    metering: MeteringDep,
    engine: AnswerEngineDep,
    relay: RelayDep,
) -> Response:
    raw = await read_json_object(request, max_bytes=settings.max_body_bytes, max_depth=settings.max_json_depth)
    body = _parse(raw, settings)
    if settings.moderation_enabled:
        await moderation.check_input(upstream, body.question, settings.moderation_model, param="question")
    started = time.monotonic()
    index, hits = await engine.search(body.question, body.top_k or settings.answers_top_k, client.id)
    search_ms = round((time.monotonic() - started) * 1000, 1)
    annotate(request, index_version=index.version, chunks=len(hits), search_ms=search_ms)
    answer = AnswerReply(index, hits, metering.prices, search_ms)
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
    if body.stream:  # the usage chunk goes into the closing `answer` event
        payload["stream_options"] = {"include_usage": True}
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
        return _json(answer.payload(content_of(completion), completion.get("usage"), chat.model, cached=True), metered)
    if chat.stream:
        events = await relay.open_stream(metered, chat)
        return _sse(answer.stream(events, chat.model, cached=False), metered.headers())
    try:
        answered: Any = orjson.loads(await relay.complete(metered, chat))
    except orjson.JSONDecodeError:
        answered = None
    if not isinstance(answered, dict):
        raise UpstreamError("OpenAI returned an unexpected answer; try again")
    return _json(answer.payload(content_of(answered), answered.get("usage"), chat.model, cached=False), metered)


async def _iterate(events: Iterable[bytes]) -> AsyncIterator[bytes]:
    for event in events:
        yield event


def _json(payload: dict[str, Any], metered: MeteredCall) -> Response:
    return Response(orjson.dumps(payload), media_type="application/json", headers=metered.headers())


def _sse(events: AsyncIterator[bytes], headers: Mapping[str, str]) -> Response:
    return StreamingResponse(events, media_type="text/event-stream", headers={**SSE_HEADERS, **headers})


def _respond_without_model(answer: AnswerReply, model: str, stream: bool) -> Response:
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
