"""`POST /v1/chat/completions`: the request as the guardrails check it, and the completion OpenAI answers with.

The request model restates the checked fields of `service.guardrails.ChatCompletionBody` with what they
mean (a test keeps the two equal); every other field passes to OpenAI as sent. Limits that come from the
settings (allowed models, output caps, `n`, message count) are added when the document is built.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt

from service.api.responses import operation_doc, schema_ref, streamed_or_json
from service.api.schemas.common import DEFAULT_MODEL, CompletionUsage

CHAT_EXAMPLE: dict[str, Any] = {
    "model": DEFAULT_MODEL,
    "messages": [
        {"role": "system", "content": "Answer in one short sentence."},
        {"role": "user", "content": "What is a token?"},
    ],
    "max_completion_tokens": 64,
}


class StreamOptions(BaseModel):
    model_config = ConfigDict(extra="allow")
    include_usage: StrictBool = Field(False, description="Send a last chunk with the usage")


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="allow")
    role: Literal["system", "developer", "user", "assistant", "tool", "function"]
    content: str | list[dict[str, Any]] | None = Field(None, description="Text, or content parts (text, images)")


class ChatCompletionRequest(BaseModel):
    """OpenAI's chat completion request. Fields not listed (tools, response_format, ...) pass to OpenAI as sent."""

    model_config = ConfigDict(extra="allow", json_schema_extra={"examples": [CHAT_EXAMPLE]})
    model: str | None = Field(None, description="One of the allowed models; absent: DEFAULT_MODEL")
    messages: list[ChatMessage] = Field(min_length=1, description="The conversation so far")
    stream: StrictBool = Field(False, description="Answer with server-sent events (chat.completion.chunk)")
    stream_options: StreamOptions | None = None
    n: StrictInt | None = Field(None, ge=1, description="Completions to generate (at most MAX_N)")
    max_tokens: StrictInt | None = Field(None, ge=1, description="Older spelling of max_completion_tokens")
    max_completion_tokens: StrictInt | None = Field(
        None, ge=1, description="Output cap, reasoning included; absent: the model's default (service/catalog.py)"
    )
    reasoning_effort: str | None = Field(None, description="Reasoning models only: one of the model's efforts")
    stop: str | list[str] | None = Field(None, description="Up to 4 sequences where generation stops")
    temperature: float | None = Field(None, ge=0, le=2, strict=True)
    top_p: float | None = Field(None, ge=0, le=1, strict=True)
    presence_penalty: float | None = Field(None, ge=-2, le=2, strict=True)
    frequency_penalty: float | None = Field(None, ge=-2, le=2, strict=True)
    seed: StrictInt | None = None
    logprobs: StrictBool | None = None
    top_logprobs: StrictInt | None = Field(None, ge=0, le=20)
    parallel_tool_calls: StrictBool | None = None
    store: StrictBool | None = Field(None, description="Ignored unless UPSTREAM_STORE=true: calls go with store=false")
    user: str | None = Field(None, max_length=256, description="Your end user's id; OpenAI sees only a pseudonym")
    safety_identifier: str | None = Field(None, max_length=256, description="As `user`: sent as a pseudonym")


class ChatCompletionMessage(BaseModel):
    role: Literal["assistant"]
    content: str | None = None
    refusal: str | None = None
    tool_calls: list[dict[str, Any]] | None = None


class ChatCompletionChoice(BaseModel):
    index: int
    message: ChatCompletionMessage
    finish_reason: str | None = Field(description="stop, length, tool_calls or content_filter")
    logprobs: dict[str, Any] | None = None


class ChatCompletion(BaseModel):
    """A completion as OpenAI answers it (from the response cache: the same bytes)."""

    id: str
    object: Literal["chat.completion"]
    created: int
    model: str
    choices: list[ChatCompletionChoice]
    usage: CompletionUsage | None = None
    system_fingerprint: str | None = None
    service_tier: str | None = None


class ChatCompletionDelta(BaseModel):
    role: str | None = None
    content: str | None = None
    refusal: str | None = None
    tool_calls: list[dict[str, Any]] | None = None


class ChatCompletionChunkChoice(BaseModel):
    index: int
    delta: ChatCompletionDelta
    finish_reason: str | None = None
    logprobs: dict[str, Any] | None = None


class ChatCompletionChunk(BaseModel):
    """One streamed event. With `stream_options.include_usage`, a last chunk has no choices and the usage."""

    id: str
    object: Literal["chat.completion.chunk"]
    created: int
    model: str
    choices: list[ChatCompletionChunkChoice]
    usage: CompletionUsage | None = None
    system_fingerprint: str | None = None


CHAT_COMPLETIONS_DOC = operation_doc(
    streamed_or_json(
        "A chat.completion, or chat.completion.chunk events when streamed",
        ChatCompletion,
        schema_ref(ChatCompletionChunk),
    ),
    (400, 401, 404, 408, 413, 429, 502, 503, 504),
    request=ChatCompletionRequest,
    example=CHAT_EXAMPLE,
)
