"""The OpenAPI document (`/openapi.json`, `/docs`): what the service really accepts and answers.

The chat and answers routes read their bodies themselves (no pydantic validation on the hot path beyond
the guardrails), so FastAPI cannot see them; their request schemas are declared here, from the same
models the guardrails validate with, plus the limits the settings impose (allowed models, `n`, max
tokens, message count). Every error a route can answer is documented in OpenAI's shape, and FastAPI's
422 is dropped: this service answers a malformed request with 400. A fuzzer that reads this document
(schemathesis, tests/service/api/test_openapi_fuzz.py) therefore exercises every endpoint as a client would.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from service.api.routes.answers import NOT_BLANK, AnswerBody
from service.guardrails import MAX_STOP_SEQUENCES, ChatCompletionBody
from service.settings import Settings

_COMPONENTS = "#/components/schemas/{model}"
_CHAT_PATH = "/v1/chat/completions"
_ANSWERS_PATH = "/v1/answers"


def install_openapi(app: FastAPI, settings: Settings) -> None:
    """Replace FastAPI's document builder with one that adds the request bodies and drops the 422s."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title,
                version=app.version,
                summary=app.summary,
                description=app.description,
                routes=app.routes,
            )
            _drop_validation_errors(schema)
            components = schema.setdefault("components", {}).setdefault("schemas", {})
            _request_body(schema, components, _CHAT_PATH, "ChatCompletionRequest", _chat_schema(settings))
            _request_body(schema, components, _ANSWERS_PATH, "AnswerRequest", _answer_schema(settings))
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]  # FastAPI's documented way to extend the document


def _drop_validation_errors(schema: dict[str, Any]) -> None:
    for operations in schema.get("paths", {}).values():
        for operation in operations.values():
            operation.get("responses", {}).pop("422", None)
    components = schema.get("components", {}).get("schemas", {})
    for name in ("HTTPValidationError", "ValidationError"):
        components.pop(name, None)


def _request_body(
    schema: dict[str, Any], components: dict[str, Any], path: str, name: str, body: dict[str, Any]
) -> None:
    operation = schema.get("paths", {}).get(path, {}).get("post")
    if operation is None:
        return
    components.update(body.pop("$defs", {}))
    components[name] = body
    operation["requestBody"] = {
        "required": True,
        "content": {"application/json": {"schema": {"$ref": _COMPONENTS.format(model=name)}}},
    }


def _branch(prop: dict[str, Any], json_type: str) -> dict[str, Any]:
    """The branch of a (possibly nullable) property schema that has `json_type`."""
    candidates: list[dict[str, Any]] = prop.get("anyOf", [prop])
    for candidate in candidates:
        if candidate.get("type") == json_type:
            return candidate
    raise KeyError(json_type)


def _chat_schema(settings: Settings) -> dict[str, Any]:
    body = ChatCompletionBody.model_json_schema(ref_template=_COMPONENTS)
    props = body["properties"]
    _branch(props["model"], "string")["enum"] = list(settings.allowed_models)
    _branch(props["n"], "integer")["maximum"] = settings.max_n
    for name in ("max_tokens", "max_completion_tokens"):
        _branch(props[name], "integer")["maximum"] = settings.max_tokens_limit
    props["messages"]["maxItems"] = settings.max_messages
    _branch(props["stop"], "array")["maxItems"] = MAX_STOP_SEQUENCES
    props["best_of"] = False  # refused: chat completions have `n`, not `best_of`
    return body


def _answer_schema(settings: Settings) -> dict[str, Any]:
    body = AnswerBody.model_json_schema(ref_template=_COMPONENTS)
    props = body["properties"]
    props["question"] |= {"maxLength": settings.answers_max_question_chars, "pattern": NOT_BLANK}
    _branch(props["top_k"], "integer")["maximum"] = settings.answers_max_top_k
    _branch(props["model"], "string")["enum"] = list(settings.allowed_models)
    return body
