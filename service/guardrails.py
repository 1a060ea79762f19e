"""The guide's input limits, applied to a chat completion request before anything is spent on it.

`prepare_chat_request` validates the client's JSON, refuses what the settings do not allow (each
refusal names the field and the limit), and returns the parameters to send upstream: the client's
own fields, untouched, plus the defaults and the hashed end-user identity we add.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field, StrictBool, ValidationError

from service.errors import InvalidRequest, PayloadTooLarge, validation_error
from service.settings import Settings

MAX_STOP_SEQUENCES = 4  # OpenAI's own limit


class _StreamOptions(BaseModel):
    model_config = ConfigDict(extra="allow")
    include_usage: StrictBool = False


class _Message(BaseModel):
    model_config = ConfigDict(extra="allow")
    role: Literal["system", "developer", "user", "assistant", "tool", "function"]
    content: str | list[dict[str, Any]] | None = None


class ChatCompletionBody(BaseModel):
    """The fields we check; every other field passes through to OpenAI as sent."""

    model_config = ConfigDict(extra="allow")
    model: str | None = None
    messages: list[_Message] = Field(min_length=1)
    stream: StrictBool = False
    stream_options: _StreamOptions | None = None
    n: int | None = Field(None, ge=1)
    max_tokens: int | None = Field(None, ge=1)
    max_completion_tokens: int | None = Field(None, ge=1)
    stop: str | list[str] | None = None
    temperature: float | None = Field(None, ge=0, le=2)
    top_p: float | None = Field(None, ge=0, le=1)
    user: str | None = Field(None, max_length=256)


@dataclass(frozen=True, slots=True)
class ChatRequest:
    params: dict[str, Any]  # what goes upstream
    model: str
    stream: bool
    include_usage: bool  # the client asked for the usage chunk
    max_output_tokens: int  # the most completion tokens this request can produce (per choice)
    n: int
    input_text: str  # the text parts of all messages, for moderation and token estimates


def parse_json_object(raw: bytes) -> dict[str, Any]:
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InvalidRequest(
            f"The request body is not valid JSON ({exc}); send a JSON object", code="invalid_json"
        ) from None
    if not isinstance(data, dict):
        raise InvalidRequest("The request body must be a JSON object", code="invalid_json")
    return data


async def read_limited_body(chunks: Any, content_length: str | None, max_bytes: int) -> bytes:
    """Read at most `max_bytes`; refuse larger bodies without buffering them whole."""
    if content_length and content_length.isdigit() and int(content_length) > max_bytes:
        raise PayloadTooLarge(f"The request body is larger than this service's limit of {max_bytes} bytes")
    parts: list[bytes] = []
    size = 0
    async for chunk in chunks:
        size += len(chunk)
        if size > max_bytes:
            raise PayloadTooLarge(f"The request body is larger than this service's limit of {max_bytes} bytes")
        parts.append(chunk)
    return b"".join(parts)


def _text_of(message: _Message) -> str:
    if isinstance(message.content, str):
        return message.content
    if isinstance(message.content, list):
        return "\n".join(str(part.get("text", "")) for part in message.content if part.get("type") == "text")
    return ""


def end_user_id(client_id: str, user: str | None) -> str:
    """A stable pseudonym OpenAI can use to report abuse by one end user, without learning who it is."""
    return hashlib.sha256(f"{client_id}\x00{user or ''}".encode()).hexdigest()[:32]


def prepare_chat_request(body: dict[str, Any], settings: Settings, client_id: str) -> ChatRequest:
    try:
        parsed = ChatCompletionBody.model_validate(body)
    except ValidationError as exc:
        raise validation_error(exc.errors()) from None

    if "best_of" in body:
        raise InvalidRequest("best_of is not supported by chat completions; use n", param="best_of")
    model = parsed.model or settings.default_model
    if model not in settings.allowed_models:
        raise InvalidRequest(
            f"Model {model!r} is not enabled on this service; use one of {settings.allowed_models}",
            param="model",
            code="model_not_found",
        )
    n = parsed.n or 1
    if n > settings.max_n:
        raise InvalidRequest(f"n must be at most {settings.max_n}", param="n", code="invalid_value")
    if len(parsed.messages) > settings.max_messages:
        raise InvalidRequest(
            f"Too many messages ({len(parsed.messages)}); this service accepts at most {settings.max_messages}",
            param="messages",
            code="too_many_messages",
        )
    if isinstance(parsed.stop, list) and len(parsed.stop) > MAX_STOP_SEQUENCES:
        raise InvalidRequest(f"stop takes at most {MAX_STOP_SEQUENCES} sequences", param="stop")
    texts = [_text_of(message) for message in parsed.messages]
    total_chars = sum(map(len, texts))
    if total_chars > settings.max_input_chars:
        raise InvalidRequest(
            f"The messages hold {total_chars} characters; this service accepts at most {settings.max_input_chars}",
            param="messages",
            code="context_length_exceeded",
        )

    params = dict(body)
    params["model"] = model
    max_output = settings.default_max_tokens
    for field in ("max_completion_tokens", "max_tokens"):
        value = getattr(parsed, field)
        if value is not None:
            if value > settings.max_tokens_limit:
                raise InvalidRequest(
                    f"{field} must be at most {settings.max_tokens_limit}", param=field, code="invalid_value"
                )
            max_output = value
            break
    else:
        params["max_completion_tokens"] = max_output
    params["user"] = end_user_id(client_id, parsed.user)
    include_usage = bool(parsed.stream_options and parsed.stream_options.include_usage)
    if parsed.stream:
        # Always ask for usage upstream: accounting must not depend on what the client asked for.
        params["stream_options"] = {**(body.get("stream_options") or {}), "include_usage": True}
    return ChatRequest(
        params=params,
        model=model,
        stream=parsed.stream,
        include_usage=include_usage,
        max_output_tokens=max_output,
        n=n,
        input_text="\n".join(texts),
    )
