"""`POST /v1/answers`: a question about the knowledge base, and the grounded answer with its sources.

The request model restates `AnswerBody` (service/api/routes/answers.py; a test keeps the two equal). The
question's length, `top_k`'s maximum and the allowed models come from the settings, when the document is built.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool

from service.api.responses import operation_doc, schema_ref, streamed_or_json
from service.api.schemas.chat import ChatCompletionChunk
from service.api.schemas.common import CompletionUsage

ANSWER_EXAMPLE: dict[str, Any] = {"question": "How do I export a workspace?", "top_k": 3}


class AnswerRequest(BaseModel):
    """A question about the bundled knowledge base (service/knowledge)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [ANSWER_EXAMPLE]})
    question: str = Field(min_length=1, description="At most ANSWERS_MAX_QUESTION_CHARS characters")
    top_k: int | None = Field(None, ge=1, description="Chunks given to the model; absent: ANSWERS_TOP_K")
    model: str | None = Field(None, description="One of the allowed chat models; absent: DEFAULT_MODEL")
    stream: StrictBool = Field(False, description="Answer with server-sent events")
    user: str | None = Field(None, max_length=256, description="Your end user's id; OpenAI sees only a pseudonym")


class AnswerSource(BaseModel):
    id: str = Field(description="The chunk's id")
    document_id: str
    title: str
    score: float = Field(description="Cosine similarity to the question")


class Answer(BaseModel):
    object: Literal["answer"]
    model: str
    answer: str
    found: bool = Field(description="False: the knowledge base does not say, and the answer says so")
    citations: list[AnswerSource] = Field(description="The sources the answer cites")
    context: list[AnswerSource] = Field(description="Every chunk the model was given")
    index_version: str
    cached: bool = Field(description="Served from the response cache (then it cost nothing)")
    usage: CompletionUsage
    cost_usd: float
    search_ms: float


class AnswerContext(BaseModel):
    """The first streamed event: the chunks retrieved, before the model's text."""

    object: Literal["answer.context"]
    index_version: str
    context: list[AnswerSource]


ANSWERS_DOC = operation_doc(
    streamed_or_json(
        "An answer, or answer.context, chat.completion.chunk and answer events when streamed",
        Answer,
        {"anyOf": [schema_ref(AnswerContext), schema_ref(ChatCompletionChunk), schema_ref(Answer)]},
    ),
    (400, 401, 404, 408, 413, 429, 502, 503, 504),
    request=AnswerRequest,
    example=ANSWER_EXAMPLE,
)
