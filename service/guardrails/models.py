"""Which models a client may name, what each may produce, and the model objects `/v1/models` answers with."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from service.catalog import ModelSpec, spec_for
from service.errors import InvalidRequest, ModelNotFound
from service.settings import Settings


def allowed_spec(model: str, allowed: Sequence[str]) -> ModelSpec:
    """The model's catalog entry; 404 `model_not_found`, as OpenAI answers, when it is not allowed here."""
    spec = spec_for(model)
    if model not in allowed or spec is None:
        raise ModelNotFound(model)
    return spec


def output_cap(settings: Settings, spec: ModelSpec) -> int:
    """The most output tokens a request may ask of the model: its own cap, lowered by MAX_OUTPUT_TOKENS_LIMIT."""
    limit = settings.max_output_tokens_limit
    return spec.max_output_tokens if limit is None else min(spec.max_output_tokens, limit)


def default_output(settings: Settings, spec: ModelSpec) -> int:
    """What a request that sets no max tokens gets (and reserves)."""
    return min(spec.default_output_tokens, output_cap(settings, spec))


def largest_output_cap(settings: Settings) -> int:
    """The highest output cap among the allowed chat models (the OpenAPI document's `maximum`)."""
    return max(output_cap(settings, allowed_spec(model, settings.allowed_models)) for model in settings.allowed_models)


def check_output_tokens(param: str, value: int, model: str, settings: Settings, spec: ModelSpec) -> None:
    cap = output_cap(settings, spec)
    if value > cap:
        owner = "this service's MAX_OUTPUT_TOKENS_LIMIT" if cap < spec.max_output_tokens else f"{model}'s own cap"
        raise InvalidRequest(f"{param} must be at most {cap} for {model} ({owner})", param=param, code="invalid_value")


def check_reasoning_effort(param: str, effort: str, model: str, spec: ModelSpec) -> None:
    if not spec.reasoning:
        raise InvalidRequest(
            f"{param} is only accepted by reasoning models, and {model} is not one; remove {param}",
            param=param,
            code="unsupported_parameter",
        )
    if effort not in spec.reasoning_efforts:
        raise InvalidRequest(
            f"{param} {effort!r} is not supported by {model}; use one of {list(spec.reasoning_efforts)}",
            param=param,
            code="unsupported_value",
        )


def _model_object(model: str) -> dict[str, Any]:
    return {"id": model, "object": "model", "created": 0, "owned_by": "openai"}


def served_models(settings: Settings) -> list[dict[str, Any]]:
    """The models clients may use here, chat and embedding, as OpenAI's model objects (`GET /v1/models`)."""
    names = dict.fromkeys([*settings.allowed_models, *settings.embedding_models])
    return [_model_object(name) for name in names]


def lookup_model(settings: Settings, model_id: str) -> dict[str, Any]:
    """`GET /v1/models/{model}`: the model object, or 404 `model_not_found` for a model not served here."""
    if model_id not in settings.allowed_models and model_id not in settings.embedding_models:
        raise ModelNotFound(model_id)
    return _model_object(model_id)
