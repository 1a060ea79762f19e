"""`POST /v1/responses`: OpenAI's Responses API request as the guardrails check it, and the response object.

The request model restates the checked fields of `service.guardrails.ResponsesBody` (a test keeps the two
equal); every other field, `metadata` and `tools` among them, passes to OpenAI as sent, and is described
here without constraints because this service does not check it. The allowed models, the output cap and
the reasoning efforts come from the settings when the document is built.
"""

from __future__ import annotations

from typing import Any, Literal

from openai.types.responses import ResponseStatus
from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt

from service.api.responses import operation_doc, schema_ref, streamed_or_json
from service.api.schemas.common import DEFAULT_MODEL

RESPONSES_EXAMPLE: dict[str, Any] = {
    "model": DEFAULT_MODEL,
    "instructions": "Answer in one short sentence.",
    "input": "What is a token?",
    "max_output_tokens": 64,
}


class ResponseInputItem(BaseModel):
    """A message (`role` and `content`), or another input item (`type`: function_call_output, ...)."""

    model_config = ConfigDict(extra="allow")
    type: Any = Field(None, description="message (the default), function_call_output, reasoning, ...")
    role: Any = Field(None, description="A message's role: user, assistant, system or developer")
    content: Any = Field(None, description="A message's text, or content parts (input_text, input_image, ...)")


class Reasoning(BaseModel):
    model_config = ConfigDict(extra="allow")
    effort: str | None = Field(None, description="Reasoning models only: one of the model's efforts")


class ConversationRef(BaseModel):
    model_config = ConfigDict(extra="allow")
    id: str


class ResponseCreateRequest(BaseModel):
    """OpenAI's Responses API request. Fields not listed (tools, text, ...) pass to OpenAI as sent."""

    model_config = ConfigDict(extra="allow", json_schema_extra={"examples": [RESPONSES_EXAMPLE]})
    model: str | None = Field(None, description="One of the allowed models; absent: DEFAULT_MODEL")
    input: str | list[ResponseInputItem] | None = Field(None, description="Text, or a list of input items")
    instructions: str | None = Field(None, description="A system (developer) message put before the input")
    stream: StrictBool = Field(False, description="Answer with server-sent events (response.* events)")
    max_output_tokens: StrictInt | None = Field(
        None, ge=16, description="Output cap, reasoning included; absent: the model's default"
    )
    reasoning: Reasoning | None = None
    store: StrictBool | None = Field(None, description="Ignored unless UPSTREAM_STORE=true: calls go with store=false")
    background: Literal[False] | None = Field(None, description="Background responses are refused here")
    previous_response_id: str | None = Field(
        None, description="Continue a stored response (refused when RESPONSES_ALLOW_STORED_STATE=false)"
    )
    conversation: str | ConversationRef | None = Field(
        None, description='A conversation id or {"id": ...} (refused when RESPONSES_ALLOW_STORED_STATE=false)'
    )
    temperature: float | None = Field(None, ge=0, le=2, strict=True)
    top_p: float | None = Field(None, ge=0, le=1, strict=True)
    top_logprobs: StrictInt | None = Field(None, ge=0, le=20)
    parallel_tool_calls: StrictBool | None = None
    max_tool_calls: StrictInt | None = Field(None, ge=1)
    user: str | None = Field(None, max_length=256, description="Your end user's id; OpenAI sees only a pseudonym")
    safety_identifier: str | None = Field(None, max_length=256, description="As `user`: sent as a pseudonym")
    metadata: Any = Field(None, description="Up to 16 string key-value pairs, kept with the response by OpenAI")


class ResponseOutputContent(BaseModel):
    model_config = ConfigDict(extra="allow")
    type: str = Field(description="output_text or refusal")
    text: str | None = None
    annotations: list[Any] | None = None


class ResponseOutputItem(BaseModel):
    model_config = ConfigDict(extra="allow")
    type: str = Field(description="message, reasoning, function_call, ...")
    id: str | None = None
    status: str | None = None
    role: str | None = None
    content: list[ResponseOutputContent] | None = None


class InputTokensDetails(BaseModel):
    cached_tokens: int


class OutputTokensDetails(BaseModel):
    reasoning_tokens: int


class ResponseUsage(BaseModel):
    input_tokens: int
    input_tokens_details: InputTokensDetails
    output_tokens: int
    output_tokens_details: OutputTokensDetails
    total_tokens: int


class ResponseObject(BaseModel):
    """A response as OpenAI answers it."""

    model_config = ConfigDict(extra="allow")
    id: str
    object: Literal["response"]
    created_at: float
    status: ResponseStatus | None = None
    model: str
    output: list[ResponseOutputItem]
    usage: ResponseUsage | None = None
    error: dict[str, Any] | None = None
    incomplete_details: dict[str, Any] | None = None


class ResponseStreamEvent(BaseModel):
    """One streamed event; the last, response.completed, carries the whole response and its usage."""

    model_config = ConfigDict(extra="allow")
    type: str = Field(description="response.created, response.output_text.delta, ..., response.completed")
    sequence_number: int | None = None
    response: ResponseObject | None = None
    delta: str | None = None


RESPONSES_DOC = operation_doc(
    streamed_or_json("A response, or response.* events when streamed", ResponseObject, schema_ref(ResponseStreamEvent)),
    (400, 401, 404, 408, 413, 429, 502, 503, 504),
    request=ResponseCreateRequest,
    example=RESPONSES_EXAMPLE,
)
