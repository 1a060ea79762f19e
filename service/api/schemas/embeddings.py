"""`POST /v1/embeddings`: texts or token ids in, one vector per input out.

The request model restates `service.guardrails.EmbeddingsBody`, whose `input` check is code: here it is
the same rule as a schema. The allowed embedding models and the input limits come from the settings when
the document is built.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt

from service.api.responses import json_response, operation_doc
from service.api.schemas.common import EMBEDDING_MODEL

EMBEDDINGS_EXAMPLE: dict[str, Any] = {
    "model": EMBEDDING_MODEL,
    "input": ["The food was delicious.", "The waiter was friendly."],
    "dimensions": 256,
}

Text = Annotated[str, Field(min_length=1)]
TokenIds = Annotated[list[Annotated[int, Field(ge=0)]], Field(min_length=1)]


class EmbeddingCreateRequest(BaseModel):
    model_config = ConfigDict(extra="allow", json_schema_extra={"examples": [EMBEDDINGS_EXAMPLE]})
    model: str | None = Field(None, description="One of the allowed embedding models; absent: EMBEDDING_MODEL")
    input: Text | TokenIds | Annotated[list[Text | TokenIds], Field(min_length=1)] = Field(
        description="A text, token ids, or a list of either (one vector each)"
    )
    encoding_format: Literal["float", "base64"] | None = Field(None, description="absent: float")
    dimensions: StrictInt | None = Field(
        None, ge=1, description="A shorter vector (text-embedding-3 models), at most the model's own length"
    )
    user: str | None = Field(None, max_length=256, description="Your end user's id; OpenAI sees only a pseudonym")


class Embedding(BaseModel):
    object: Literal["embedding"]
    index: int = Field(description="The input's position")
    embedding: list[float] | str = Field(
        description="The vector; a base64 string of float32s with encoding_format=base64"
    )


class EmbeddingsUsage(BaseModel):
    prompt_tokens: int
    total_tokens: int


class EmbeddingList(BaseModel):
    object: Literal["list"]
    data: list[Embedding]
    model: str
    usage: EmbeddingsUsage


EMBEDDINGS_DOC = operation_doc(
    json_response("One embedding per input, in input order", EmbeddingList),
    (400, 401, 404, 408, 413, 429, 502, 503, 504),
    request=EmbeddingCreateRequest,
    example=EMBEDDINGS_EXAMPLE,
)
