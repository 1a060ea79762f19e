"""Per-request context: the request id, and the one structured log line each request produces.

A plain ASGI middleware (not BaseHTTPMiddleware) so streamed responses pass through untouched and
the log line is written when the last byte has been sent, with the real duration. The same fields make
the request's EMF metric record (service.metrics) and, with tracing on, its span's attributes.

It is also where an unexpected exception becomes the OpenAI-shaped 500: Starlette's own catch-all runs
outside every middleware, where the response would carry no `X-Request-ID` and its log line no id.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Callable
from typing import Any

import structlog
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service import metrics
from service.contract import HEALTH_PATH, READY_PATH
from service.errors import CLIENT_CLOSED_REQUEST, APIError
from service.request_context import close_request, open_request

log = structlog.get_logger("service.access")
errors_log = structlog.get_logger("service.errors")

_LOG_FIELDS = "service.log_fields"
REQUEST_ID_KEY = "service.request_id"  # in the ASGI scope; the HTTP protocol reads it too (service.server)
_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")
_QUIET_PATHS = {HEALTH_PATH, READY_PATH}


def annotate(request: Request, **fields: Any) -> None:
    """Add fields (client id, model, tokens...) to this request's log line."""
    request.scope.setdefault(_LOG_FIELDS, {}).update(fields)


def request_id_of(request: Request) -> str:
    return str(request.scope.get(REQUEST_ID_KEY, ""))


class RequestContextMiddleware:
    def __init__(
        self, app: ASGIApp, environment: str = "local", on_finish: Callable[[dict[str, Any]], None] | None = None
    ) -> None:
        self.app = app
        self.environment = environment
        self.on_finish = on_finish  # e.g. service.telemetry.annotate_span, when tracing is on

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = ""
        for name, value in scope["headers"]:
            if name == b"x-request-id":
                incoming = value.decode("latin-1")
                break
        # A client-supplied id is kept only if it is safe to echo and to log.
        request_id = incoming if _VALID_REQUEST_ID.match(incoming) else uuid.uuid4().hex
        scope[REQUEST_ID_KEY] = request_id
        current, token = open_request()
        start, fields = current.start, current.fields
        scope[_LOG_FIELDS] = fields
        status = 500
        started = finished = propagating = False

        async def send_with_id(message: Message) -> None:
            nonlocal status, started, finished
            if message["type"] == "http.response.start":
                status = message["status"]
                started = True
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-request-id", request_id.encode())]
            elif message["type"] == "http.response.body" and not message.get("more_body", False):
                finished = True
                # What the client waited, to the answer's last byte (work after it, e.g. closing the books, is not).
                fields["latency_ms"] = round((time.perf_counter() - start) * 1000, 2)
                if self.on_finish is not None:  # before the last byte: a tracer may end its span on it
                    self.on_finish({"request_id": request_id, "status": status, **fields})
            await send(message)

        structlog.contextvars.bind_contextvars(request_id=request_id)
        path = scope["path"]
        try:
            await self.app(scope, receive, send_with_id)
        except Exception as exc:
            # A bug, not a client error: log it with the request id, tell the client nothing internal.
            errors_log.exception("unhandled_error", path=scope["path"], error_type=type(exc).__name__)
            if started:  # mid-response: the server can only cut the connection (and logs it, still with the id)
                propagating = True
                raise
            await APIError("The server had an error while processing your request.").response()(
                scope, receive, send_with_id
            )
        finally:
            close_request(token)
            if not finished:
                fields["latency_ms"] = round((time.perf_counter() - start) * 1000, 2)
            # Started but never finished, without an error of ours: the client went away mid-response (a stream
            # it stopped reading). The status it was sent is not how the request ended: nginx's 499 is.
            if started and not finished and not propagating:
                log.info("client_disconnected", path=path, sent_status=status)
                status = CLIENT_CLOSED_REQUEST
            self._write_line(scope, request_id, status, fields)
            if not propagating:
                structlog.contextvars.unbind_contextvars("request_id")

    def _write_line(self, scope: Scope, request_id: str, status: int, fields: dict[str, Any]) -> None:
        """The request's log line and, but for health checks, its metric record."""
        path = scope["path"]
        outcome = metrics.outcome_of(status)
        quiet = path in _QUIET_PATHS
        emit = log.debug if quiet else log.info
        emit("request", method=scope["method"], path=path, status=status, outcome=outcome, **fields)
        if not quiet:
            route = scope.get("route")
            endpoint = getattr(route, "path", None) or "unmatched"
            line = {"request_id": request_id, "status": status, **fields}
            metrics.emit_request(self.environment, endpoint, line, outcome)
