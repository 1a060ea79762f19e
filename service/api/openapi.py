"""The OpenAPI document (`/openapi.json`, `/docs`): what the service really accepts and answers.

Each operation's request body and responses come from service.api.schemas (schema-only models, splatted
into the route decorators); this module adds their components, the limits that depend on the settings
(service.api.schemas.limits), and the examples' models as configured. FastAPI's 422 is dropped: this
service answers a malformed request with 400, in OpenAI's error shape. A fuzzer that reads this document
(schemathesis, tests/service/api/test_openapi_fuzz.py) therefore exercises every endpoint as a client
would, and a request the document allows is one the service accepts.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic.json_schema import JsonSchemaMode, models_json_schema

from service.api.responses import COMPONENTS, DOCUMENTED_MODELS, ErrorBody
from service.api.schemas.limits import apply_settings
from service.settings import LOCAL_DEV_KEY, Settings


def install_openapi(app: FastAPI, settings: Settings) -> None:
    """Replace FastAPI's document builder with one that completes it from service.api.schemas."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title,
                version=app.version,
                summary=app.summary,
                description=_description(app.description, settings),
                routes=app.routes,
            )
            _restore_error_nulls(schema)
            _drop_validation_errors(schema)
            _add_components(schema)
            # The document shares dicts with the route declarations and the models' examples: edit a copy.
            schema = copy.deepcopy(schema)
            apply_settings(schema["components"]["schemas"], settings)
            _examples_use_configured_models(schema, settings)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]  # FastAPI's documented way to extend the document


def _description(description: str, settings: Settings) -> str:
    how = "Authenticate with a client key: **Authorize**, or `Authorization: Bearer <key>`."
    if settings.accepts_local_dev_key:
        how += f" This local service accepts the key `{LOCAL_DEV_KEY}`."
    return f"{description}\n\n{how}".strip()


def _operations(schema: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for operations in schema.get("paths", {}).values():
        yield from operations.values()


def _restore_error_nulls(schema: dict[str, Any]) -> None:
    """FastAPI leaves null values out of the document, examples included; OpenAI's errors always carry
    `param` and `code`, null or not."""
    error_body = COMPONENTS + ErrorBody.__name__
    for operation in _operations(schema):
        for response in operation.get("responses", {}).values():
            media = response.get("content", {}).get("application/json", {})
            if media.get("schema", {}).get("$ref") == error_body and "example" in media:
                for field in ("param", "code"):
                    media["example"]["error"].setdefault(field, None)


def _drop_validation_errors(schema: dict[str, Any]) -> None:
    for operation in _operations(schema):
        operation.get("responses", {}).pop("422", None)
    components = schema.get("components", {}).get("schemas", {})
    for name in ("HTTPValidationError", "ValidationError"):
        components.pop(name, None)


def _add_components(schema: dict[str, Any]) -> None:
    mode: JsonSchemaMode = "validation"
    models = [(model, mode) for model in DOCUMENTED_MODELS.values()]
    _, definitions = models_json_schema(models, ref_template=COMPONENTS + "{model}")
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    for name, definition in definitions.get("$defs", {}).items():
        if name in components and components[name] != definition:
            raise RuntimeError(f"two schemas are named {name} in the OpenAPI document; rename one")
        components[name] = definition


def _examples_use_configured_models(schema: dict[str, Any], settings: Settings) -> None:
    """The examples name the default settings' models; a service configured otherwise shows its own."""
    configured = {
        "ChatCompletionRequest": settings.default_model,
        "ResponseCreateRequest": settings.default_model,
        "EmbeddingCreateRequest": settings.embedding_model,
    }
    components = schema["components"]["schemas"]
    for name, model in configured.items():
        for example in components[name].get("examples", []):
            example["model"] = model
    for operation in _operations(schema):
        media = operation.get("requestBody", {}).get("content", {}).get("application/json", {})
        name = media.get("schema", {}).get("$ref", "").removeprefix(COMPONENTS)
        if name in configured and "example" in media:
            media["example"]["model"] = configured[name]
