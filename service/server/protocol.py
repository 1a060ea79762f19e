"""uvicorn's HTTP protocol with two clocks a slow client cannot hold open: headers, then body.

Without them a client trickling its headers a byte at a time keeps a connection (and a little memory)
for as long as it likes: uvicorn has a keep-alive timeout between requests, but none while one arrives.
In AWS the load balancer shields the service from this; local and self-hosted runs are not shielded.

- Headers: a new connection (or, on a kept-alive one, a request's first byte) starts the clock; the
  request's headers must be complete within `header_timeout_seconds`, or the client gets 408 and the
  connection is closed.
- Body: when the headers are complete the body's clock starts; it must have arrived in full within
  `body_timeout_seconds`. If the app has not answered yet, the client gets 408; either way the
  connection is closed and the app sees the client as gone.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import orjson
import structlog
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

from service.errors import BODY_TIMED_OUT
from service.middleware import REQUEST_ID_KEY

log = structlog.get_logger(__name__)


def _error(message: str, code: str) -> bytes:
    return orjson.dumps({"error": {"message": message, "type": "invalid_request_error", "param": None, "code": code}})


class TimedHttpToolsProtocol(HttpToolsProtocol):
    header_timeout_seconds: float = 10.0
    body_timeout_seconds: float = 30.0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._clock: asyncio.TimerHandle | None = None

    # --- the clocks ----------------------------------------------------------------------------
    def _start(self, seconds: float, expired: Any) -> None:
        self._stop()
        self._clock = self.loop.call_later(seconds, expired)

    def _stop(self) -> None:
        if self._clock is not None:
            self._clock.cancel()
            self._clock = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._start(self.header_timeout_seconds, self._headers_too_slow)

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop()
        super().connection_lost(exc)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        if self._clock is None:  # a kept-alive connection's next request: its clock starts at its first byte
            self._start(self.header_timeout_seconds, self._headers_too_slow)

    def on_headers_complete(self) -> None:
        self._stop()
        super().on_headers_complete()
        self._start(self.body_timeout_seconds, self._body_too_slow)

    def on_message_complete(self) -> None:
        self._stop()
        super().on_message_complete()

    # --- when one runs out ------------------------------------------------------------------------
    def _headers_too_slow(self) -> None:
        self._clock = None
        request_id = uuid.uuid4().hex  # no request yet, but the answer and the log line can still be matched
        log.warning(
            "request_header_timeout",
            request_id=request_id,
            client=self.client[0] if self.client else None,
            seconds=self.header_timeout_seconds,
        )
        message = f"The request headers did not arrive within {self.header_timeout_seconds:g}s"
        self._reply_and_close(408, request_id, message, "request_timeout")

    def _body_too_slow(self) -> None:
        self._clock = None
        cycle, scope = self.cycle, self.scope
        request_id = str(scope.get(REQUEST_ID_KEY) or uuid.uuid4().hex)
        log.warning(
            "request_body_timeout",
            request_id=request_id,
            path=scope.get("path"),
            client=self.client[0] if self.client else None,
            seconds=self.body_timeout_seconds,
        )
        if cycle is None or cycle.response_started:
            self.transport.close()  # answered without reading the whole body: just let the connection go
        else:
            scope[BODY_TIMED_OUT] = True  # type: ignore[literal-required]
            message = f"The request body did not arrive within {self.body_timeout_seconds:g}s"
            self._reply_and_close(408, request_id, message, "request_timeout")
        if cycle is not None:  # the app's next receive() says the client is gone; what it sends is dropped
            cycle.disconnected = True
            cycle.message_event.set()

    def send_400_response(self, msg: str) -> None:
        """uvicorn's answer to bytes that are not HTTP, in OpenAI's shape and with a request id like any other."""
        request_id = uuid.uuid4().hex
        log.warning("invalid_http_request", request_id=request_id, client=self.client[0] if self.client else None)
        self._reply_and_close(400, request_id, msg, "invalid_http")

    def _reply_and_close(self, status: int, request_id: str, message: str, code: str) -> None:
        if self.transport.is_closing():
            return
        body = _error(message, code)
        head = [
            STATUS_LINE[status],
            b"content-type: application/json\r\n",
            b"content-length: " + str(len(body)).encode() + b"\r\n",
            b"x-request-id: " + request_id.encode() + b"\r\n",
            b"connection: close\r\n\r\n",
        ]
        self.transport.write(b"".join(head) + body)
        self.transport.close()


def timed_protocol(*, header_timeout_seconds: float, body_timeout_seconds: float) -> type[TimedHttpToolsProtocol]:
    """The protocol class uvicorn builds per connection, with these timeouts."""
    return type(
        "TimedHttpToolsProtocol",
        (TimedHttpToolsProtocol,),
        {"header_timeout_seconds": header_timeout_seconds, "body_timeout_seconds": body_timeout_seconds},
    )
