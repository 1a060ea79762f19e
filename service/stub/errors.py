"""OpenAI-shaped error responses: `{"error": {"message", "type", "param", "code"}}`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

import orjson
from aiohttp import web

# status -> (type, code, message) as OpenAI answers them.
_DEFAULTS: Final[Mapping[int, tuple[str, str | None, str]]] = {
    400: ("invalid_request_error", None, "Invalid request (stub)."),
    401: ("invalid_request_error", "invalid_api_key", "Incorrect API key provided."),
    403: ("invalid_request_error", None, "You are not allowed to perform this request."),
    404: ("invalid_request_error", None, "Not found."),
    408: ("server_error", "timeout", "Request timed out."),
    409: ("invalid_request_error", None, "Conflict."),
    429: ("requests", "rate_limit_exceeded", "Rate limit reached for requests (stub). Please try again."),
    500: ("server_error", None, "The server had an error while processing your request. Sorry about that!"),
    502: ("server_error", None, "Bad gateway."),
    503: ("server_error", None, "The engine is currently overloaded, please try again later."),
}


def error_response(
    status: int,
    message: str | None = None,
    *,
    type_: str | None = None,
    code: str | None = None,
    param: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> web.Response:
    fallback = ("server_error" if status >= 500 else "invalid_request_error", None, f"Error {status} (stub).")
    default_type, default_code, default_message = _DEFAULTS.get(status, fallback)
    body = {
        "error": {
            "message": message or default_message,
            "type": type_ or default_type,
            "param": param,
            "code": code or default_code,
        }
    }
    return web.Response(status=status, body=orjson.dumps(body), content_type="application/json", headers=headers)


def bad_request(message: str, param: str | None = None) -> web.Response:
    return error_response(400, message, param=param)
