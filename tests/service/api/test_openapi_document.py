"""The OpenAPI document and the /docs page, in process: what a client reads about the API is what it gets.

Behaviour across processes (Swagger UI in a browser against the served app) is in test_docs_browser.py;
schemathesis checks the document against the running service in test_openapi_fuzz.py.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from typing import Any

import httpx2
import pytest
from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts
from jsonschema import Draft202012Validator
from pydantic import BaseModel

from service.api.deps import get_client
from service.api.responses import COMPONENTS, ErrorBody
from service.api.routes.answers import AnswerBody
from service.api.schemas.answers import ANSWER_EXAMPLE, AnswerRequest
from service.api.schemas.chat import CHAT_EXAMPLE, ChatCompletionRequest
from service.api.schemas.embeddings import EMBEDDINGS_EXAMPLE, EmbeddingCreateRequest
from service.api.schemas.responses_api import RESPONSES_EXAMPLE, ResponseCreateRequest
from service.api.swagger_ui import CONTENT_SECURITY_POLICY
from service.contract import HEALTH_PATH, READY_PATH
from service.errors import APIError
from service.guardrails import (
    ChatCompletionBody,
    EmbeddingsBody,
    ResponsesBody,
    prepare_chat_request,
    prepare_embeddings_request,
    prepare_responses_request,
)
from service.main import create_app
from service.settings import Settings

UNAUTHENTICATED = {HEALTH_PATH, READY_PATH}
# POST operations that take no body: everything else must declare the one it reads.
BODYLESS = {("post", "/v1/admin/cache/invalidate")}
METHODS = {"get", "post", "put", "patch", "delete"}


def _settings(**values: Any) -> Settings:
    return Settings(_env_file=None, **values)


@pytest.fixture(scope="module")
def app() -> FastAPI:
    return create_app(_settings())


@pytest.fixture(scope="module")
def document(app: FastAPI) -> dict[str, Any]:
    return app.openapi()


def _operations(document: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            if method in METHODS:
                yield method, path, operation


def _refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        if isinstance(node.get("$ref"), str):
            yield node["$ref"]
        for value in node.values():
            yield from _refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from _refs(value)


# --- Authentication -----------------------------------------------------------------------------------


def test_every_authenticated_operation_declares_the_bearer_scheme(document: dict[str, Any]) -> None:
    schemes = document["components"]["securitySchemes"]
    bearer = [name for name, scheme in schemes.items() if (scheme["type"], scheme.get("scheme")) == ("http", "bearer")]
    assert len(bearer) == 1, schemes
    for method, path, operation in _operations(document):
        if path in UNAUTHENTICATED:
            assert "security" not in operation, f"{method} {path} needs no key"
        else:
            assert operation.get("security") == [{bearer[0]: []}], f"{method} {path} does not declare the key"


def test_the_routes_that_declare_the_scheme_are_those_that_authenticate(app: FastAPI, document: dict[str, Any]) -> None:
    for context in iter_route_contexts(app.routes):
        route = context.original_route
        if not isinstance(route, APIRoute) or not route.include_in_schema:
            continue
        authenticates = get_client in _calls(route.dependant)
        for method in route.methods or ():
            declared = "security" in document["paths"][context.path][method.lower()]
            assert declared == authenticates, f"{method} {context.path}"


def _calls(dependant: Dependant) -> Iterator[Any]:
    for dependency in dependant.dependencies:
        yield dependency.call
        yield from _calls(dependency)


# --- Request bodies -----------------------------------------------------------------------------------

# Each documented request model, the validator the service really runs, and a run of the real check.
REQUESTS: dict[str, tuple[type[BaseModel], type[BaseModel]]] = {
    "ChatCompletionRequest": (ChatCompletionRequest, ChatCompletionBody),
    "AnswerRequest": (AnswerRequest, AnswerBody),
    "ResponseCreateRequest": (ResponseCreateRequest, ResponsesBody),
    "EmbeddingCreateRequest": (EmbeddingCreateRequest, EmbeddingsBody),
}
# Where the document is deliberately narrower than the validator's type, because code after it refuses more.
NARROWED = {("ResponseCreateRequest", "background")}  # `true` is refused (service/guardrails/responses.py)


def test_every_operation_that_reads_a_body_declares_it_with_an_example(document: dict[str, Any]) -> None:
    for method, path, operation in _operations(document):
        if method != "post" or (method, path) in BODYLESS:
            assert "requestBody" not in operation, f"{method} {path}"
            continue
        assert "requestBody" in operation, f"{method} {path} declares no request body"
        body = operation["requestBody"]
        assert body["required"], f"{method} {path}"
        media = body["content"]["application/json"]
        name = media["schema"]["$ref"].removeprefix(COMPONENTS)
        schema_model, _ = REQUESTS[name]
        schema_model.model_validate(media["example"])
        assert document["components"]["schemas"][name]["examples"] == [media["example"]]


def test_examples_pass_the_service_checks_with_the_default_settings() -> None:
    settings = _settings()
    prepare_chat_request(CHAT_EXAMPLE, settings, "docs")
    prepare_responses_request(RESPONSES_EXAMPLE, settings, "docs")
    prepare_embeddings_request(EMBEDDINGS_EXAMPLE, settings, "docs")
    AnswerBody.model_validate(ANSWER_EXAMPLE)


def _inline(schema: Any, defs: dict[str, Any]) -> Any:
    """The schema with its $refs replaced by what they name, and its prose (titles, descriptions) left out."""
    if isinstance(schema, dict):
        if "$ref" in schema:
            return _inline(defs[schema["$ref"].rsplit("/", 1)[-1]], defs)
        prose = {"title", "description", "examples"}
        return {key: _inline(value, defs) for key, value in schema.items() if key not in prose}
    if isinstance(schema, list):
        return [_inline(item, defs) for item in schema]
    return schema


@pytest.mark.parametrize("name", sorted(REQUESTS))
def test_request_model_states_exactly_what_the_service_checks(name: str) -> None:
    schema_model, validator = REQUESTS[name]
    documented, checked = schema_model.model_json_schema(), validator.model_json_schema()
    documented_props = _inline(documented, documented.get("$defs", {}))["properties"]
    checked_props = _inline(checked, checked.get("$defs", {}))["properties"]
    assert set(checked_props) <= set(documented_props), f"{name} leaves out checked fields"
    for field, rule in checked_props.items():
        if rule in ({}, {"default": None}) or (name, field) in NARROWED:
            continue  # checked by code, not by its type: the fuzz test holds the document to it
        assert documented_props[field] == rule, f"{name}.{field} differs from what {validator.__name__} checks"
    assert documented.get("additionalProperties") == checked.get("additionalProperties"), name
    assert set(documented.get("required", [])) == set(checked.get("required", [])), name


# --- Responses ----------------------------------------------------------------------------------------


def test_no_operation_declares_a_422(document: dict[str, Any]) -> None:
    for method, path, operation in _operations(document):
        assert "422" not in operation["responses"], f"{method} {path}"
    assert not {"HTTPValidationError", "ValidationError"} & set(document["components"]["schemas"])


def test_every_error_is_openai_shaped_with_a_real_example(document: dict[str, Any]) -> None:
    for method, path, operation in _operations(document):
        for status, response in operation["responses"].items():
            if int(status) < 400 or path == READY_PATH:
                continue
            media = response["content"]["application/json"]
            assert media["schema"] == {"$ref": COMPONENTS + "ErrorBody"}, f"{method} {path} {status}"
            ErrorBody.model_validate(media["example"])


def test_every_operation_declares_a_typed_200(document: dict[str, Any]) -> None:
    for method, path, operation in _operations(document):
        schema = operation["responses"]["200"]["content"]["application/json"]["schema"]
        assert schema.get("$ref") or schema.get("anyOf") or schema.get("properties"), f"{method} {path}: {schema}"


def test_every_reference_resolves_to_a_plainly_named_component(document: dict[str, Any]) -> None:
    components = document["components"]["schemas"]
    for ref in _refs(document):
        assert ref.removeprefix(COMPONENTS) in components, ref
    assert not [name for name in components if "__" in name]


# --- Settings and declarations ------------------------------------------------------------------------


def test_the_document_follows_the_settings() -> None:
    settings = _settings(
        allowed_models=["gpt-4.1-mini", "gpt-4o-mini"], default_model="gpt-4.1-mini", max_n=2, max_messages=7
    )
    document = create_app(settings).openapi()
    chat = document["components"]["schemas"]["ChatCompletionRequest"]
    model = next(branch for branch in chat["properties"]["model"]["anyOf"] if branch.get("type") == "string")
    assert model["enum"] == ["gpt-4.1-mini", "gpt-4o-mini"]
    assert chat["properties"]["messages"]["maxItems"] == 7
    assert chat["examples"][0]["model"] == "gpt-4.1-mini"
    operation = document["paths"]["/v1/chat/completions"]["post"]
    assert operation["requestBody"]["content"]["application/json"]["example"]["model"] == "gpt-4.1-mini"
    assert "local-dev-key" in document["info"]["description"]


MESSAGES = [{"role": "user", "content": "Hi"}]
# A reasoning model beside two chat models whose output caps differ (service/catalog.py).
MIXED_MODELS = {"allowed_models": ["gpt-4o-mini", "gpt-4.1-mini", "gpt-5-mini"], "default_model": "gpt-4o-mini"}
CHAT_CASES = [
    ({"model": "gpt-4.1-mini", "messages": MESSAGES, "max_completion_tokens": 20_000}, True),
    ({"model": "gpt-4o-mini", "messages": MESSAGES, "max_completion_tokens": 20_000}, False),
    ({"messages": MESSAGES, "max_tokens": 20_000}, False),  # no model: the default, gpt-4o-mini
    ({"model": "gpt-5-mini", "messages": MESSAGES, "reasoning_effort": "low"}, True),
    ({"model": "gpt-5-mini", "messages": MESSAGES, "reasoning_effort": "xhigh"}, False),
    ({"model": "gpt-4o-mini", "messages": MESSAGES, "reasoning_effort": "low"}, False),
    ({"model": "gpt-5-mini", "messages": MESSAGES, "max_tokens": 100}, False),
    ({"model": "gpt-5-mini", "messages": MESSAGES, "max_completion_tokens": 100}, True),
]
RESPONSES_CASES = [
    ({"model": "gpt-4.1-mini", "input": "Hi", "max_output_tokens": 20_000}, True),
    ({"input": "Hi", "max_output_tokens": 20_000}, False),
    ({"model": "gpt-5-mini", "input": "Hi", "reasoning": {"effort": "minimal"}}, True),
    ({"model": "gpt-4.1-mini", "input": "Hi", "reasoning": {"effort": "low"}}, False),
]


def _accepted(prepare: Any, body: dict[str, Any], settings: Settings) -> bool:
    try:
        prepare(body, settings, "docs")
    except APIError:
        return False
    return True


@pytest.mark.parametrize(
    ("name", "prepare", "body", "accepted"),
    [("ChatCompletionRequest", prepare_chat_request, body, ok) for body, ok in CHAT_CASES]
    + [("ResponseCreateRequest", prepare_responses_request, body, ok) for body, ok in RESPONSES_CASES],
)
def test_limits_that_differ_by_model_are_documented_per_model(
    name: str, prepare: Any, body: dict[str, Any], accepted: bool
) -> None:
    settings = _settings(**MIXED_MODELS)
    document = create_app(settings).openapi()
    schema = {"$ref": COMPONENTS + name, "components": document["components"]}
    assert Draft202012Validator(schema).is_valid(body) == accepted, "the document"
    assert _accepted(prepare, body, settings) == accepted, "the service"


# --- The /docs page -----------------------------------------------------------------------------------


def _get(app: FastAPI, *paths: str) -> list[httpx2.Response]:
    async def main() -> list[httpx2.Response]:
        transport = httpx2.ASGITransport(app=app)
        async with httpx2.AsyncClient(transport=transport, base_url="http://test") as client:
            return [await client.get(path) for path in paths]

    return asyncio.run(main())


def test_docs_page_runs_no_inline_script_and_sends_a_strict_csp(app: FastAPI) -> None:
    (page,) = _get(app, "/docs")
    assert page.status_code == 200
    assert page.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    assert "'unsafe-inline'" not in CONTENT_SECURITY_POLICY
    assert "'unsafe-eval'" not in CONTENT_SECURITY_POLICY
    scripts = re.findall(r"<script([^>]*)>(.*?)</script>", page.text, re.DOTALL)
    assert scripts
    assert all('src="' in attributes and not body.strip() for attributes, body in scripts)
    assert not re.search(r'(?:src|href)="(?:https?:)?//', page.text), "the page loads nothing from another site"
    sources = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert {"/docs/assets/swagger-ui-bundle.js", "/docs/init.js"} <= set(sources)
    for source, asset in zip(sources, _get(app, *sources), strict=True):
        assert asset.status_code == 200, source
        if source.endswith(".js"):
            assert asset.headers["content-type"].startswith("text/javascript"), source


def test_root_redirects_to_the_docs_and_redoc_is_off(app: FastAPI) -> None:
    redirect, redoc, oauth2_redirect = _get(app, "/", "/redoc", "/docs/oauth2-redirect")
    assert redirect.status_code in (302, 307)
    assert redirect.headers["location"] == "/docs"
    assert redoc.status_code == 404
    assert oauth2_redirect.status_code == 404
