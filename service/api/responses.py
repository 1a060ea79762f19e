"""What an operation declares for the OpenAPI document: its request body, its 200 and OpenAI's error body.

Bodies are described by schema-only pydantic models (service.api.schemas): nothing validates a request or
serialises a response through them, so the hot path pays nothing for the documentation. `schema_ref` records
each model it names; service.api.openapi puts them all under `components/schemas`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import BaseModel, Field

from service.errors import (
    APIError,
    AuthenticationFailed,
    InvalidRequest,
    ModelNotFound,
    PayloadTooLarge,
    PermissionDenied,
    RateLimited,
    ServiceUnavailable,
    UpstreamError,
    UpstreamTimeout,
)

COMPONENTS = "#/components/schemas/"
Responses = dict[int | str, dict[str, Any]]
# Every model an operation names, by component name; filled as the route modules are imported.
DOCUMENTED_MODELS: dict[str, type[BaseModel]] = {}


def schema_ref(model: type[BaseModel]) -> dict[str, str]:
    """`{"$ref": ...}` to the model's component, which the document will carry."""
    known = DOCUMENTED_MODELS.setdefault(model.__name__, model)
    if known is not model:
        raise ValueError(f"two documented models are named {model.__name__}: {known} and {model}; rename one")
    return {"$ref": COMPONENTS + model.__name__}


class ErrorDetail(BaseModel):
    message: str = Field(description="What went wrong, and usually how to fix it")
    type: str = Field(description="e.g. invalid_request_error, rate_limit_error, insufficient_quota, upstream_error")
    param: str | None = Field(description="The request field at fault, when there is one")
    code: str | None = Field(description="A machine-readable reason, e.g. invalid_api_key, model_not_found")


class ErrorBody(BaseModel):
    """OpenAI's error shape: the SDKs raise the matching exception."""

    error: ErrorDetail


# What each status means here, with an error this service really raises for it as the example.
_ERRORS: Mapping[int, tuple[str, APIError]] = {
    400: (
        "Invalid JSON, content type, field or limit (`param` names the field)",
        InvalidRequest("n must be at most 4", param="n", code="invalid_value"),
    ),
    401: ("Missing or wrong client key", AuthenticationFailed("Incorrect API key provided")),
    403: (
        "The client key may not do this",
        PermissionDenied("Only admin clients can read another client's usage", param="client_id"),
    ),
    404: ("The model does not exist or is not served here", ModelNotFound("gpt-0")),
    408: (
        "The request's headers or body arrived too slowly; the connection is closed",
        InvalidRequest("The request body did not arrive within 30s", code="request_timeout"),
    ),
    413: (
        "The body is larger than MAX_BODY_BYTES",
        PayloadTooLarge("The request body is larger than this service's limit of 1000000 bytes"),
    ),
    429: (
        "A rate limit or spend budget (ours or OpenAI's); retry after Retry-After",
        RateLimited("Rate limit reached for requests per minute (RPM): limit 60. Please try again in 1s."),
    ),
    502: (
        "OpenAI failed or rejected this service's key",
        UpstreamError("Upstream authentication failed", code="upstream_auth_failed"),
    ),
    503: (
        "Limits unavailable (Redis down, fail closed), the fleet at its OpenAI limit, or the index not ready",
        ServiceUnavailable(
            "This service is at its OpenAI rate limit; retry after the time in Retry-After", code="upstream_capacity"
        ),
    ),
    504: ("OpenAI did not answer in time", UpstreamTimeout("OpenAI did not answer within 90s; try again")),
}
_REQUEST_ID = {
    "X-Request-ID": {
        "description": "This request's id: quote it when reporting a problem",
        "schema": {"type": "string"},
    }
}
_RETRY_AFTER = {
    "Retry-After": {"description": "Seconds to wait before retrying", "schema": {"type": "string"}},
    "retry-after-ms": {
        "description": "The same wait in milliseconds (the OpenAI SDKs read it)",
        "schema": {"type": "string"},
    },
}


def error_responses(*statuses: int) -> Responses:
    """FastAPI `responses=` entries for these statuses, each with OpenAI's error body and a real example."""
    responses: Responses = {}
    for status in statuses:
        meaning, error = _ERRORS[status]
        headers = _REQUEST_ID | (_RETRY_AFTER if status in (429, 503) else {})
        responses[status] = {
            "description": meaning,
            "headers": headers,
            "content": {"application/json": {"schema": schema_ref(ErrorBody), "example": error.body()}},
        }
    return responses


def json_response(description: str, body: type[BaseModel] | Mapping[str, Any]) -> Responses:
    """A 200 with a JSON body: one model, or a schema (e.g. `anyOf` several `schema_ref`s)."""
    schema = schema_ref(body) if isinstance(body, type) else dict(body)
    return {200: {"description": description, "content": {"application/json": {"schema": schema}}}}


def streamed_or_json(
    description: str, body: type[BaseModel] | None = None, event: Mapping[str, Any] | None = None
) -> Responses:
    """A 200 that is JSON, or server-sent events when the request asked for `"stream": true`.

    OpenAPI before 3.2 has no way to say "a stream of these": the `schema` of text/event-stream describes
    one event, whose `data` is a JSON object (`event`, when given) or `[DONE]` last.
    """
    data: dict[str, Any] = {"type": "string", "description": "a JSON object, or `[DONE]` last"}
    if event is not None:
        # An event, or the error event that ends a stream cut short (service.streaming), or `[DONE]`.
        json_event = {"anyOf": [dict(event), schema_ref(ErrorBody)]}
        data["anyOf"] = [
            {"contentMediaType": "application/json", "contentSchema": json_event},
            {"const": "[DONE]"},
        ]
    stream = {
        "schema": {
            "type": "object",
            "required": ["data"],
            "properties": {"data": data, "event": {"type": "string"}},
        }
    }
    content: dict[str, Any] = {"text/event-stream": stream}
    if body is not None:
        content = {"application/json": {"schema": schema_ref(body)}} | content
    return {200: {"description": description, "content": content}}


def operation_doc(
    ok: Responses,
    errors: Iterable[int],
    *,
    request: type[BaseModel] | None = None,
    example: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Keyword arguments for a route decorator: `@router.post(path, **doc)`.

    `response_model=None`: the 200 is documented here, and nothing validates or re-serialises what the
    route returns. The request body goes in with `openapi_extra`, because the route reads it raw
    (service.api.body): FastAPI cannot see it, and must not validate it.
    """
    doc: dict[str, Any] = {"response_model": None, "responses": ok | error_responses(*errors)}
    if request is not None:
        media: dict[str, Any] = {"schema": schema_ref(request)}
        if example is not None:
            media["example"] = dict(example)
        doc["openapi_extra"] = {"requestBody": {"required": True, "content": {"application/json": media}}}
    return doc
