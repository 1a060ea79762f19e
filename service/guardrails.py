"""The guide's input limits, applied to a chat completion request before anything is spent on it.

`prepare_chat_request` validates the client's JSON, refuses what the settings do not allow (each
refusal names the field and the limit), and returns the parameters to send upstream: the client's
own fields, untouched, plus the defaults and the hashed end-user identity we add.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, ValidationError

from service.errors import InvalidRequest, validation_error
from service.settings import Settings

MAX_STOP_SEQUENCES = 4  # OpenAI's own limit


class StreamOptions(BaseModel):
    model_config = ConfigDict(extra="allow")
    include_usage: StrictBool = False


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="allow")
    role: Literal["system", "developer", "user", "assistant", "tool", "function"]
    content: str | list[dict[str, Any]] | None = None


class ChatCompletionBody(BaseModel):
    """The fields we check; every other field passes through to OpenAI as sent.

    Numbers and booleans are strict, as OpenAI's own checks are: `"100"`, `100.0` or `true` for an
    integer is refused here, naming the field, instead of costing an upstream call that OpenAI refuses.
    """

    model_config = ConfigDict(extra="allow")
    model: str | None = None
    messages: list[ChatMessage] = Field(min_length=1)
    stream: StrictBool = False
    stream_options: StreamOptions | None = None
    n: StrictInt | None = Field(None, ge=1)
    max_tokens: StrictInt | None = Field(None, ge=1)
    max_completion_tokens: StrictInt | None = Field(None, ge=1)
    stop: str | list[str] | None = None
    temperature: float | None = Field(None, ge=0, le=2, strict=True)
    top_p: float | None = Field(None, ge=0, le=1, strict=True)
    presence_penalty: float | None = Field(None, ge=-2, le=2, strict=True)
    frequency_penalty: float | None = Field(None, ge=-2, le=2, strict=True)
    seed: StrictInt | None = None
    logprobs: StrictBool | None = None
    top_logprobs: StrictInt | None = Field(None, ge=0, le=20)
    parallel_tool_calls: StrictBool | None = None
    store: StrictBool | None = None
    user: str | None = Field(None, max_length=256)
    safety_identifier: str | None = Field(None, max_length=256)


@dataclass(frozen=True, slots=True)
class ChatRequest:
    params: dict[str, Any]  # what goes upstream
    model: str
    stream: bool
    include_usage: bool  # the client asked for the usage chunk
    max_output_tokens: int  # the most completion tokens this request can produce (per choice)
    n: int
    input_text: str  # the text parts of all messages, for moderation and token estimates


def _text_of(message: ChatMessage) -> str:
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
    # Both spellings are checked: OpenAI honours either, so the larger one is what the request may cost.
    caps = {name: value for name in ("max_completion_tokens", "max_tokens") if (value := getattr(parsed, name))}
    for name, value in caps.items():
        if value > settings.max_tokens_limit:
            raise InvalidRequest(
                f"{name} must be at most {settings.max_tokens_limit}", param=name, code="invalid_value"
            )
    max_output = max(caps.values(), default=settings.default_max_tokens)
    if not caps:
        params["max_completion_tokens"] = max_output
    # The client's end users reach OpenAI only as pseudonyms (abuse reports still trace back to one of them).
    params["user"] = end_user_id(client_id, parsed.user)
    if parsed.safety_identifier is not None:
        params["safety_identifier"] = end_user_id(client_id, parsed.safety_identifier)
    if not settings.upstream_store:
        params["store"] = False  # data retention: OpenAI keeps no stored completion, whatever the client asked
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
