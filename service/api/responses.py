"""What routes declare they answer, for the OpenAPI document: OpenAI's error body for every error status."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel


class ErrorDetail(BaseModel):
    message: str
    type: str
    param: str | None
    code: str | None


class ErrorBody(BaseModel):
    """OpenAI's error shape: the SDKs raise the matching exception."""

    error: ErrorDetail


_ERROR_MEANINGS = {
    400: "Invalid JSON, content type, field or limit (`param` names the field)",
    401: "Missing or wrong client key",
    403: "The client key may not do this",
    408: "The request's headers or body arrived too slowly",
    413: "The body is larger than MAX_BODY_BYTES",
    429: "A rate limit or spend budget (ours or OpenAI's); see Retry-After",
    502: "OpenAI failed or rejected this service's key",
    503: "Limits unavailable (Redis down, fail closed), the fleet at its OpenAI limit, or the index not ready",
    504: "OpenAI did not answer in time",
}


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """FastAPI `responses=` entries for these statuses, each with OpenAI's error body."""
    return {status: {"model": ErrorBody, "description": _ERROR_MEANINGS[status]} for status in statuses}


# One server-sent event (OpenAPI before 3.2: the `schema` of text/event-stream describes each event).
_SSE_EVENT = {
    "type": "object",
    "required": ["data"],
    "properties": {
        "data": {"type": "string", "description": "a JSON object, or `[DONE]` last"},
        "event": {"type": "string"},
    },
}


def streamed_or_json(description: str) -> dict[int | str, dict[str, Any]]:
    """A 200 that is JSON, or server-sent events when the request asked for `"stream": true`."""
    return {200: {"description": description, "content": {"text/event-stream": {"schema": _SSE_EVENT}}}}
