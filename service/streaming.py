"""Relaying OpenAI's server-sent events to our client, as bytes.

Upstream chunks are forwarded without being parsed; only the one event that carries `usage`
(always requested upstream, so accounting never guesses) is decoded. It is passed on only if the
client asked for it. While upstream is quiet, `: keep-alive` comments keep the connection (and the
load balancer's idle timer) alive; a stream that outlives `max_stream_seconds`, or is still open when
the server must stop (service.server.shutdown), is ended with an OpenAI-shaped error event, which the
SDK raises as an APIError.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import orjson
import structlog

log = structlog.get_logger(__name__)

HEARTBEAT = b": keep-alive\n\n"
DONE = b"data: [DONE]\n\n"
_USAGE_MARKERS = (b'"usage":{', b'"usage": {')


@dataclass(frozen=True)
class StreamLimits:
    """What bounds a relayed stream; one per process, built in the lifespan."""

    heartbeat_seconds: float  # `: keep-alive` after this much silence
    max_seconds: float  # the longest stream
    shutdown: asyncio.Future[None] | None = None  # done when open streams must end (the server is stopping)


class ServerShuttingDown(Exception):
    """The server's graceful timeout is about to run out: the stream must end now, with a reason."""


def sse_event(payload: dict[str, Any]) -> bytes:
    return b"data: " + orjson.dumps(payload) + b"\n\n"


def error_event(message: str, code: str, error_type: str = "server_error") -> bytes:
    return sse_event({"error": {"message": message, "type": error_type, "param": None, "code": code}})


def _usage_of(event: bytes) -> dict[str, Any] | None:
    if not any(marker in event for marker in _USAGE_MARKERS):
        return None
    try:
        data = orjson.loads(event.removeprefix(b"data:").strip())
    except orjson.JSONDecodeError:
        return None
    usage = data.get("usage") if isinstance(data, dict) else None
    return usage if isinstance(usage, dict) else None


async def with_heartbeats(source: AsyncIterator[bytes], limits: StreamLimits) -> AsyncIterator[bytes | None]:
    """Yield `source`'s items; yield None after each `heartbeat_seconds` of silence.

    Raises TimeoutError once `max_seconds` have passed since the start, and ServerShuttingDown when the
    server's shutdown notice says open streams must end.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limits.max_seconds
    shutdown = limits.shutdown
    pending: asyncio.Future[bytes] | None = None
    try:
        while True:
            if pending is None:
                pending = asyncio.ensure_future(anext(source))
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise TimeoutError
            waiting: set[asyncio.Future[Any]] = {pending} if shutdown is None else {pending, shutdown}
            timeout = min(limits.heartbeat_seconds, remaining)
            done, _ = await asyncio.wait(waiting, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
            if shutdown is not None and shutdown.done():
                raise ServerShuttingDown
            if pending not in done:
                if loop.time() >= deadline:
                    raise TimeoutError
                yield None
                continue
            try:
                item = pending.result()
            except StopAsyncIteration:
                return
            pending = None
            yield item
    finally:
        if pending is not None and not pending.done():
            pending.cancel()


async def relay_events(
    upstream: AsyncIterator[bytes],
    *,
    include_usage: bool,
    on_usage: Callable[[dict[str, Any]], None],
    limits: StreamLimits,
) -> AsyncIterator[bytes]:
    """Forward complete SSE events from upstream's byte stream (see the module docstring)."""
    buffer = b""
    try:
        async for chunk in with_heartbeats(upstream, limits):
            if chunk is None:
                yield HEARTBEAT
                continue
            buffer += chunk
            if b"\n\n" not in buffer:
                continue
            *events, buffer = buffer.split(b"\n\n")
            out: list[bytes] = []
            for event in events:
                if not event.strip():
                    continue
                usage = _usage_of(event)
                if usage is not None:
                    on_usage(usage)
                    if not include_usage:
                        continue
                out.append(event)
            if out:
                yield b"\n\n".join(out) + b"\n\n"
    except TimeoutError:
        log.warning("stream_time_budget_exceeded", max_stream_seconds=limits.max_seconds)
        yield error_event(f"The stream exceeded this service's limit of {limits.max_seconds:g}s", "stream_timeout")
        return
    except ServerShuttingDown:
        log.warning("stream_ended_for_shutdown")
        yield error_event("The server is shutting down; retry the request", "server_shutting_down")
        return
    except Exception as exc:  # the connection to OpenAI broke mid-stream; headers are already sent
        log.warning("upstream_stream_broken", error_type=type(exc).__name__)
        yield error_event("The connection to OpenAI broke during the stream; try again", "upstream_error")
        return
    if buffer.strip():
        yield buffer + b"\n\n"
