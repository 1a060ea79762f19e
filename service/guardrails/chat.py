"""`POST /v1/chat/completions`: the checks, the per-model output cap and what goes upstream."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt

from service.errors import InvalidRequest
from service.guardrails.common import (
    Endpoint,
    apply_store_policy,
    check_input_chars,
    parse_body,
    pseudonymise,
)
from service.guardrails.models import allowed_spec, check_output_tokens, check_reasoning_effort, default_output
from service.ratelimit import count_prompt_tokens
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
    reasoning_effort: str | None = None
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
    endpoint: ClassVar[Endpoint] = Endpoint.CHAT
    params: dict[str, Any]  # what goes upstream
    model: str
    stream: bool
    include_usage: bool  # the client asked for the usage chunk
    max_output_tokens: int  # the most completion tokens this request can produce (per choice)
    n: int
    input_text: str  # the text parts of all messages, for moderation

    def estimate_input_tokens(self) -> int:
        return count_prompt_tokens(self.params)


def _text_of(message: ChatMessage) -> str:
    if isinstance(message.content, str):
        return message.content
    if isinstance(message.content, list):
        return "\n".join(str(part.get("text", "")) for part in message.content if part.get("type") == "text")
    return ""


def prepare_chat_request(body: dict[str, Any], settings: Settings, client_id: str) -> ChatRequest:
    parsed = parse_body(ChatCompletionBody, body)
    if "best_of" in body:
        raise InvalidRequest("best_of is not supported by chat completions; use n", param="best_of")
    model = parsed.model or settings.default_model
    spec = allowed_spec(model, settings.allowed_models)
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
    check_input_chars(texts, settings, "messages", "The messages hold")
    if parsed.reasoning_effort is not None:
        check_reasoning_effort("reasoning_effort", parsed.reasoning_effort, model, spec)
    if spec.reasoning and parsed.max_tokens is not None:
        # OpenAI's own answer: reasoning models count reasoning tokens, which only the newer field covers.
        raise InvalidRequest(
            f"Unsupported parameter: 'max_tokens' is not supported with {model}. Use 'max_completion_tokens' instead.",
            param="max_tokens",
            code="unsupported_parameter",
        )

    params = dict(body)
    params["model"] = model
    # Both spellings are checked: OpenAI honours either, so the larger one is what the request may cost.
    caps = {name: value for name in ("max_completion_tokens", "max_tokens") if (value := getattr(parsed, name))}
    for name, value in caps.items():
        check_output_tokens(name, value, model, settings, spec)
    max_output = max(caps.values(), default=default_output(settings, spec))
    if not caps:
        params["max_completion_tokens"] = max_output
    pseudonymise(params, client_id, parsed.user, parsed.safety_identifier)
    apply_store_policy(params, settings)
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
