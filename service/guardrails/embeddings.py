"""`POST /v1/embeddings`: the allowed embedding models, input limits, and what goes upstream."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt, field_validator
from pydantic_core import PydanticCustomError

from service.catalog import EMBEDDING_MAX_INPUT_TOKENS
from service.errors import InvalidRequest
from service.guardrails.common import Endpoint, parse_body, pseudonymise
from service.guardrails.models import allowed_spec
from service.ratelimit.tokens import count_text_tokens
from service.settings import Settings, env_name


def _is_token_ids(value: Any) -> bool:
    return (
        isinstance(value, list)
        and bool(value)
        and all(isinstance(t, int) and not isinstance(t, bool) and t >= 0 for t in value)
    )


class EmbeddingsBody(BaseModel):
    """The fields we check; every other field passes through to OpenAI as sent."""

    model_config = ConfigDict(extra="allow")
    model: str | None = None
    input: Any = Field(...)  # a string, strings, token ids, or arrays of token ids
    encoding_format: Literal["float", "base64"] | None = None
    dimensions: StrictInt | None = Field(None, ge=1)
    user: str | None = Field(None, max_length=256)

    @field_validator("input")
    @classmethod
    def _inputs(cls, value: Any) -> list[str | list[int]]:
        """The inputs as a list: each a non-empty string or a non-empty array of token ids."""
        if isinstance(value, str) or _is_token_ids(value):
            items = [value]
        elif isinstance(value, list) and value:
            items = value
        else:
            items = []
        if items and all((isinstance(item, str) and item) or _is_token_ids(item) for item in items):
            return items
        raise PydanticCustomError(
            "input_type",
            "must be a non-empty string, an array of non-empty strings, or token ids (an array, or arrays of them)",
        )


@dataclass(frozen=True, slots=True)
class EmbeddingsRequest:
    endpoint: ClassVar[Endpoint] = Endpoint.EMBEDDINGS
    params: dict[str, Any]  # what goes upstream
    model: str
    inputs: tuple[str | tuple[int, ...], ...]  # each input: text, or token ids
    stream: bool = False
    include_usage: bool = False  # an embeddings response carries its usage; nothing to withhold or add
    max_output_tokens: int = 0  # embeddings bill input only
    n: int = 1

    @property
    def input_text(self) -> str:
        return "\n".join(item for item in self.inputs if isinstance(item, str))

    def estimate_input_tokens(self) -> int:
        return sum(count_text_tokens(item) if isinstance(item, str) else len(item) for item in self.inputs)


def _check_sizes(inputs: list[str | list[int]], settings: Settings) -> None:
    if len(inputs) > settings.embeddings_max_inputs:
        raise InvalidRequest(
            f"input holds {len(inputs)} items; this service accepts at most {settings.embeddings_max_inputs} "
            f"({env_name('embeddings_max_inputs')})",
            param="input",
            code="too_many_inputs",
        )
    total = 0
    for index, item in enumerate(inputs):
        if isinstance(item, list) and len(item) > EMBEDDING_MAX_INPUT_TOKENS:
            raise InvalidRequest(
                f"input[{index}] holds {len(item)} tokens; embedding models take at most {EMBEDDING_MAX_INPUT_TOKENS}",
                param=f"input[{index}]",
                code="context_length_exceeded",
            )
        if isinstance(item, str):
            if len(item) > settings.embeddings_max_input_chars:
                raise InvalidRequest(
                    f"input[{index}] holds {len(item)} characters; this service accepts at most "
                    f"{settings.embeddings_max_input_chars} per input ({env_name('embeddings_max_input_chars')})",
                    param=f"input[{index}]",
                    code="context_length_exceeded",
                )
            total += len(item)
    if total > settings.embeddings_max_total_chars:
        raise InvalidRequest(
            f"input holds {total} characters; this service accepts at most {settings.embeddings_max_total_chars} "
            f"per request ({env_name('embeddings_max_total_chars')})",
            param="input",
            code="context_length_exceeded",
        )


def prepare_embeddings_request(body: dict[str, Any], settings: Settings, client_id: str) -> EmbeddingsRequest:
    parsed = parse_body(EmbeddingsBody, body)
    model = parsed.model or settings.embedding_model
    spec = allowed_spec(model, settings.embedding_models)
    inputs: list[str | list[int]] = parsed.input
    _check_sizes(inputs, settings)
    if parsed.dimensions is not None:
        if not spec.shortens:
            raise InvalidRequest(
                f"{model} does not take dimensions; remove it", param="dimensions", code="unsupported_parameter"
            )
        if parsed.dimensions > spec.dimensions:
            raise InvalidRequest(
                f"dimensions must be at most {spec.dimensions} for {model}", param="dimensions", code="invalid_value"
            )

    params = dict(body)
    params["model"] = model
    pseudonymise(params, client_id, parsed.user, None)
    return EmbeddingsRequest(
        params=params,
        model=model,
        inputs=tuple(item if isinstance(item, str) else tuple(item) for item in inputs),
    )
