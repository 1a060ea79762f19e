"""`POST /v1/responses`: the checks, the per-model output cap, the stored-state policy and what goes upstream.

A streamed response carries its usage in the final `response.completed` event, so unlike chat nothing
needs adding upstream for accounting.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, field_validator
from pydantic_core import PydanticCustomError

from service.errors import InvalidRequest
from service.guardrails.common import (
    Endpoint,
    apply_store_policy,
    check_input_chars,
    parse_body,
    pseudonymise,
)
from service.guardrails.models import allowed_spec, check_output_tokens, check_reasoning_effort, default_output
from service.ratelimit.tokens import count_prompt_tokens
from service.settings import Settings, env_name

MIN_OUTPUT_TOKENS = 16  # OpenAI refuses a smaller max_output_tokens on /v1/responses
# OpenAI keeps these between calls; RESPONSES_ALLOW_STORED_STATE=false refuses them.
STORED_STATE_FIELDS = ("previous_response_id", "conversation")
_TEXT_PARTS = frozenset({"input_text", "output_text", "text"})


class Reasoning(BaseModel):
    model_config = ConfigDict(extra="allow")
    effort: str | None = None


class ResponsesBody(BaseModel):
    """The fields we check; every other field passes through to OpenAI as sent, as for chat."""

    model_config = ConfigDict(extra="allow")
    model: str | None = None
    input: Any = None  # a string or a list of input items (messages, tool outputs, ...)
    instructions: str | None = None
    stream: StrictBool = False
    max_output_tokens: StrictInt | None = Field(None, ge=MIN_OUTPUT_TOKENS)
    reasoning: Reasoning | None = None
    store: StrictBool | None = None
    background: StrictBool | None = None
    previous_response_id: str | None = None
    conversation: Any = None  # a conversation id, or `{"id": ...}`
    temperature: float | None = Field(None, ge=0, le=2, strict=True)
    top_p: float | None = Field(None, ge=0, le=1, strict=True)
    top_logprobs: StrictInt | None = Field(None, ge=0, le=20)
    parallel_tool_calls: StrictBool | None = None
    max_tool_calls: StrictInt | None = Field(None, ge=1)
    user: str | None = Field(None, max_length=256)
    safety_identifier: str | None = Field(None, max_length=256)

    @field_validator("input")
    @classmethod
    def _input_items(cls, value: Any) -> Any:
        if value is None or isinstance(value, str):
            return value
        if isinstance(value, list) and all(isinstance(item, dict) for item in value):
            return value
        raise PydanticCustomError("input_type", "must be a string or an array of input item objects")

    @field_validator("conversation")
    @classmethod
    def _conversation(cls, value: Any) -> Any:
        if value is None or isinstance(value, str) or (isinstance(value, dict) and isinstance(value.get("id"), str)):
            return value
        raise PydanticCustomError("conversation_type", 'must be a conversation id or {"id": "<conversation id>"}')


@dataclass(frozen=True, slots=True)
class ResponsesRequest:
    endpoint: ClassVar[Endpoint] = Endpoint.RESPONSES
    params: dict[str, Any]  # what goes upstream
    model: str
    stream: bool
    max_output_tokens: int  # the most output tokens the response can produce, reasoning included
    input_text: str  # instructions and the text parts of the input, for moderation
    include_usage: bool = True  # a response always carries its usage (streamed: in response.completed)
    n: int = 1

    def estimate_input_tokens(self) -> int:
        """The input as chat messages, counted by the same rule as chat (text, images, tools, output format)."""
        messages: list[dict[str, Any]] = []
        if isinstance(instructions := self.params.get("instructions"), str):
            messages.append({"role": "developer", "content": instructions})
        given = self.params.get("input")
        items = [{"role": "user", "content": given}] if isinstance(given, str) else given or []
        messages.extend({"content": _as_chat_content(item)} for item in items if isinstance(item, Mapping))
        counted = {"messages": messages, "tools": self.params.get("tools"), "response_format": self.params.get("text")}
        return count_prompt_tokens(counted)


def _as_chat_content(item: Mapping[str, Any]) -> Any:
    """A Responses input item as chat content: text parts as text, images as images, anything else as JSON."""
    content = item.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return [
            {"type": "text", "text": part.get("text")} if part.get("type") in _TEXT_PARTS else part
            for part in content
            if isinstance(part, Mapping)
        ]
    return [dict(item)]


def _texts(items: list[dict[str, Any]]) -> Iterator[str]:
    """The text a model reads in input items: message text and text parts, and tool outputs given as text."""
    for item in items:
        content = item.get("content")
        if isinstance(content, str):
            yield content
        elif isinstance(content, list):
            yield from (p["text"] for p in content if isinstance(p, dict) and isinstance(p.get("text"), str))
        if isinstance(item.get("output"), str):  # function_call_output and its kin
            yield item["output"]


def _check_stored_state(parsed: ResponsesBody, settings: Settings) -> None:
    if parsed.background:
        # A background response answers "queued" without its usage, which this service could then not meter.
        raise InvalidRequest(
            "background responses are not supported by this service; send the request without background",
            param="background",
            code="unsupported_parameter",
        )
    if settings.responses_allow_stored_state:
        return
    for name in STORED_STATE_FIELDS:
        if getattr(parsed, name) is not None:
            raise InvalidRequest(
                f"{name} is refused here: this service keeps no state at OpenAI "
                f"({env_name('responses_allow_stored_state')}=false); send the whole conversation as input",
                param=name,
                code="unsupported_parameter",
            )


def prepare_responses_request(body: dict[str, Any], settings: Settings, client_id: str) -> ResponsesRequest:
    parsed = parse_body(ResponsesBody, body)
    model = parsed.model or settings.default_model
    spec = allowed_spec(model, settings.allowed_models)
    items: list[dict[str, Any]] = [] if not isinstance(parsed.input, list) else parsed.input
    if len(items) > settings.max_messages:
        raise InvalidRequest(
            f"Too many input items ({len(items)}); this service accepts at most {settings.max_messages}",
            param="input",
            code="too_many_messages",
        )
    texts = [text for text in (parsed.instructions, parsed.input) if isinstance(text, str)] + list(_texts(items))
    check_input_chars(texts, settings, "input", "The input and instructions hold")
    if parsed.reasoning is not None and parsed.reasoning.effort is not None:
        check_reasoning_effort("reasoning.effort", parsed.reasoning.effort, model, spec)
    _check_stored_state(parsed, settings)

    params = dict(body)
    params["model"] = model
    if parsed.max_output_tokens is not None:
        check_output_tokens("max_output_tokens", parsed.max_output_tokens, model, settings, spec)
        max_output = parsed.max_output_tokens
    else:
        max_output = params["max_output_tokens"] = default_output(settings, spec)
    pseudonymise(params, client_id, parsed.user, parsed.safety_identifier)
    apply_store_policy(params, settings)
    return ResponsesRequest(
        params=params,
        model=model,
        stream=parsed.stream,
        max_output_tokens=max_output,
        input_text="\n".join(texts),
    )
