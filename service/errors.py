"""OpenAI-shaped errors: every error body is `{"error": {"message", "type", "param", "code"}}`.

Routes raise `APIError` subclasses; the handlers installed by `install_error_handlers` turn them and
FastAPI's validation errors into that shape (anything unexpected: service.middleware), so an OpenAI SDK
client gets the exception it would get from OpenAI itself.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import orjson
import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect
from starlette.responses import Response

from service.request_context import annotate_current

log = structlog.get_logger(__name__)
CLIENT_CLOSED_REQUEST = 499  # nginx's convention; the status our access log shows for these
REQUEST_TIMEOUT = 408
# Set in the ASGI scope by the HTTP protocol when a body took too long (service.server.protocol): the client
# was answered 408 there, and the app, which sees only a disconnect, logs that status instead of 499.
BODY_TIMED_OUT = "service.body_timed_out"


class APIError(Exception):
    status_code = 500
    error_type = "server_error"
    code: str | None = None

    def __init__(
        self,
        message: str,
        *,
        param: str | None = None,
        code: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        if code is not None:
            self.code = code
        self.headers = dict(headers or {})

    def body(self) -> dict[str, Any]:
        return {
            "error": {
                "message": self.message,
                "type": self.error_type,
                "param": self.param,
                "code": self.code,
            }
        }

    def response(self) -> Response:
        return error_response(self.status_code, self.body(), self.headers)


class InvalidRequest(APIError):
    status_code = 400
    error_type = "invalid_request_error"


class ModelNotFound(InvalidRequest):
    """An unknown model, or one this service does not allow: 404, worded as OpenAI words it."""

    status_code = 404
    code = "model_not_found"

    def __init__(self, model: str) -> None:
        super().__init__(f"The model `{model}` does not exist or you do not have access to it.", param="model")
        self.model = model


class PayloadTooLarge(InvalidRequest):
    status_code = 413
    code = "request_too_large"


class AuthenticationFailed(APIError):
    status_code = 401
    error_type = "invalid_request_error"
    code = "invalid_api_key"


class PermissionDenied(APIError):
    status_code = 403
    error_type = "invalid_request_error"
    code = "permission_denied"


class RateLimited(APIError):
    status_code = 429
    error_type = "rate_limit_error"
    code = "rate_limit_exceeded"


class InsufficientQuota(RateLimited):
    """A spend budget's hard limit: OpenAI's own shape for an exhausted quota."""

    error_type = "insufficient_quota"
    code = "insufficient_quota"


class UpstreamError(APIError):
    """OpenAI could not be reached or failed; the client's request was fine."""

    status_code = 502
    error_type = "upstream_error"
    code = "upstream_error"


class UpstreamTimeout(UpstreamError):
    status_code = 504
    code = "upstream_timeout"


class ServiceUnavailable(APIError):
    status_code = 503
    error_type = "server_error"
    code = "service_unavailable"


def error_response(status_code: int, body: dict[str, Any], headers: Mapping[str, str] | None = None) -> Response:
    error = body.get("error")
    if isinstance(error, dict):  # for "errors by type" in the logs (docs/logs-insights.md)
        annotate_current(error_type=error.get("type"), error_code=error.get("code"))
    return Response(orjson.dumps(body), status_code=status_code, headers=headers, media_type="application/json")


def describe_location(loc: Sequence[int | str]) -> str:
    """("body", "messages", 0, "role") -> "messages[0].role"."""
    parts: list[str] = []
    for item in loc:
        if item in ("body", "query", "header", "path") and not parts:
            continue
        if isinstance(item, int):
            parts.append(f"[{item}]")
        else:
            parts.append(f".{item}" if parts else str(item))
    return "".join(parts) or "body"


def validation_error(errors: Sequence[Mapping[str, Any]]) -> InvalidRequest:
    """The first pydantic error, phrased with the field it concerns; the rest are summarised."""
    first = errors[0]
    param = describe_location(first.get("loc", ()))
    message = f"Invalid value for '{param}': {first.get('msg', 'invalid')}"
    if len(errors) > 1:
        message += f" (and {len(errors) - 1} more problem(s))"
    return InvalidRequest(message, param=param, code="invalid_value")


async def _handle_api_error(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, APIError)  # noqa: S101 - registered for APIError only
    return exc.response()


async def _handle_validation_error(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)  # noqa: S101 - registered for this type only
    return validation_error(exc.errors()).response()


async def _handle_http_exception(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)  # noqa: S101 - registered for this type only
    kind = "not_found" if exc.status_code == 404 else "invalid_request"
    body = {"error": {"message": str(exc.detail), "type": "invalid_request_error", "param": None, "code": kind}}
    return error_response(exc.status_code, body, exc.headers)


async def _handle_client_disconnect(request: Request, _: Exception) -> Response:
    if request.scope.get(BODY_TIMED_OUT):
        return Response(status_code=REQUEST_TIMEOUT)  # already answered by the protocol; this is for the log
    # The client went away mid-request (closed tab, load-test end): nothing to answer, not a bug.
    log.info("client_disconnected", path=request.url.path)
    return Response(status_code=CLIENT_CLOSED_REQUEST)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(APIError, _handle_api_error)
    app.add_exception_handler(RequestValidationError, _handle_validation_error)
    app.add_exception_handler(StarletteHTTPException, _handle_http_exception)
    app.add_exception_handler(ClientDisconnect, _handle_client_disconnect)
    # No handler for Exception here: Starlette would run it outside the middleware that sets the request
    # id. service.middleware.RequestContextMiddleware answers unexpected errors instead.
