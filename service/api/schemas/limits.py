"""The limits the settings put on request bodies, written into the document's components when it is built.

The models restate the checks that never change; these depend on the configuration: the allowed models,
their output caps and reasoning efforts (service/catalog.py, lowered by MAX_OUTPUT_TOKENS_LIMIT), `n`,
message and input counts. A limit that differs between models is an `if`/`then` on the model named, so
that a request the document allows is one the service accepts, whichever model it names.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from service.api.routes.answers import NOT_BLANK
from service.catalog import EMBEDDING_MAX_INPUT_TOKENS, ModelSpec, spec_for
from service.guardrails import MAX_STOP_SEQUENCES, largest_output_cap, output_cap
from service.settings import Settings

Rule = Callable[[str], dict[str, Any]]


def apply_settings(components: dict[str, Any], settings: Settings) -> None:
    _limit_chat(components["ChatCompletionRequest"], settings)
    _limit_answers(components["AnswerRequest"]["properties"], settings)
    _limit_responses(components["ResponseCreateRequest"], components["Reasoning"], settings)
    _limit_embeddings(components["EmbeddingCreateRequest"], settings)


def _limit_chat(component: dict[str, Any], settings: Settings) -> None:
    models, largest_cap = list(settings.allowed_models), largest_output_cap(settings)
    props = component["properties"]
    _branch(props["model"], "string")["enum"] = models
    _branch(props["n"], "integer")["maximum"] = settings.max_n
    for name in ("max_tokens", "max_completion_tokens"):
        _branch(props[name], "integer")["maximum"] = largest_cap
    props["messages"]["maxItems"] = settings.max_messages
    _branch(props["stop"], "array")["maxItems"] = MAX_STOP_SEQUENCES
    props["reasoning_effort"]["enum"] = _efforts(models)
    props["best_of"] = False  # refused: chat completions have `n`, not `best_of`

    def rule(model: str) -> dict[str, Any]:
        limits = _capped(settings, model, largest_cap, "max_tokens", "max_completion_tokens")
        if _spec(model).reasoning:  # OpenAI's own rule: reasoning models take max_completion_tokens only
            limits["max_tokens"] = {"type": "null"}
        if len(_efforts(models)) > 1:
            limits["reasoning_effort"] = _effort(model)
        return {"properties": limits} if limits else {}

    _per_model(component, models, settings.default_model, rule)


def _limit_answers(props: dict[str, Any], settings: Settings) -> None:
    props["question"] |= {"maxLength": settings.answers_max_question_chars, "pattern": NOT_BLANK}
    _branch(props["top_k"], "integer")["maximum"] = settings.answers_max_top_k
    _branch(props["model"], "string")["enum"] = list(settings.allowed_models)


def _limit_responses(component: dict[str, Any], reasoning: dict[str, Any], settings: Settings) -> None:
    models, largest_cap = list(settings.allowed_models), largest_output_cap(settings)
    props = component["properties"]
    _branch(props["model"], "string")["enum"] = models
    _branch(props["max_output_tokens"], "integer")["maximum"] = largest_cap
    _branch(props["input"], "array")["maxItems"] = settings.max_messages
    reasoning["properties"]["effort"]["enum"] = _efforts(models)
    if not settings.responses_allow_stored_state:
        _only_null(props["previous_response_id"])
        _only_null(props["conversation"])

    def rule(model: str) -> dict[str, Any]:
        limits = _capped(settings, model, largest_cap, "max_output_tokens")
        if len(_efforts(models)) > 1:
            limits["reasoning"] = {"properties": {"effort": _effort(model)}}
        return {"properties": limits} if limits else {}

    _per_model(component, models, settings.default_model, rule)


def _limit_embeddings(component: dict[str, Any], settings: Settings) -> None:
    """The number of inputs goes into the schema; the size of each, and of all, only into the description, as
    chat's MAX_INPUT_CHARS does: a fuzzer that fills every input to its limit sends bodies past MAX_BODY_BYTES."""
    props = component["properties"]
    models = list(settings.embedding_models)
    _branch(props["model"], "string")["enum"] = models
    props["input"]["anyOf"][-1]["maxItems"] = settings.embeddings_max_inputs  # the last branch: a list of inputs
    props["input"]["description"] += (
        f"; at most {settings.embeddings_max_inputs} inputs, each at most {settings.embeddings_max_input_chars} "
        f"characters or {EMBEDDING_MAX_INPUT_TOKENS} tokens, {settings.embeddings_max_total_chars} characters in all"
    )
    lengths = {model: _spec(model).dimensions for model in models if _spec(model).shortens}
    if not lengths:
        _only_null(props["dimensions"])
        return
    longest = max(lengths.values())
    _branch(props["dimensions"], "integer")["maximum"] = longest

    def rule(model: str) -> dict[str, Any]:
        if model not in lengths:
            return {"properties": {"dimensions": {"type": "null"}}}
        return {"properties": {"dimensions": {"maximum": lengths[model]}}} if lengths[model] < longest else {}

    _per_model(component, models, settings.embedding_model, rule)


def _per_model(component: dict[str, Any], models: list[str], default: str, rule: Rule) -> None:
    """Limits that depend on the model a request names (absent or null: `default`), as `if`/`then`s.

    `rule(model)` is the model's own `then` (empty: the general limits are its own); models with the same
    one share an `if`.
    """
    groups: dict[str, list[str]] = {}
    for model in models:
        if limits := rule(model):
            groups.setdefault(json.dumps(limits, sort_keys=True), []).append(model)
    for then, names in groups.items():
        condition: dict[str, Any]
        if default in names:  # absent or null names the default model
            condition = {"properties": {"model": {"enum": [*names, None]}}}
        else:
            condition = {"properties": {"model": {"enum": names}}, "required": ["model"]}
        component.setdefault("allOf", []).append({"if": condition, "then": json.loads(then)})


def _spec(model: str) -> ModelSpec:
    spec = spec_for(model)
    if spec is None:  # the settings refuse to allow a model the catalog does not describe
        raise RuntimeError(f"{model} is allowed but not described in service/catalog.py")
    return spec


def _capped(settings: Settings, model: str, largest_cap: int, *fields: str) -> dict[str, Any]:
    """The model's output cap on these fields, where it is below the general maximum."""
    cap = output_cap(settings, _spec(model))
    return {field: {"maximum": cap} for field in fields} if cap < largest_cap else {}


def _efforts(models: list[str]) -> list[str | None]:
    """Every reasoning effort one of these models accepts, and null (none asked for)."""
    efforts = dict.fromkeys(effort for model in models for effort in _spec(model).reasoning_efforts)
    return [*efforts, None]


def _effort(model: str) -> dict[str, Any]:
    """The model's own efforts; only null for a model that does not reason."""
    efforts = _efforts([model])
    return {"enum": efforts} if len(efforts) > 1 else {"type": "null"}


def _branch(prop: dict[str, Any], json_type: str) -> dict[str, Any]:
    """The branch of a (possibly nullable) property schema that has `json_type`."""
    candidates: list[dict[str, Any]] = prop.get("anyOf", [prop])
    for candidate in candidates:
        if candidate.get("type") == json_type:
            return candidate
    raise KeyError(json_type)


def _only_null(prop: dict[str, Any]) -> None:
    """The property may only be absent or null: the service refuses any value for it as configured."""
    prop.pop("anyOf", None)
    prop["type"] = "null"
