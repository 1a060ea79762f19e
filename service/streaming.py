"""Relaying OpenAI's server-sent events to our client, as bytes.

Upstream chunks are forwarded without being parsed; only the event that carries `usage` is decoded
(usage is always requested upstream, so accounting never guesses). The endpoint says where usage sits
in it (`usage_of`) and whether the client sees that event. While upstream is quiet, `: keep-alive`
comments keep the connection (and the load balancer's idle timer) alive. A stream still open at the
request's deadline, or when the server must stop (service.server.shutdown), is ended with an
OpenAI-shaped error event, which the SDKs raise as an APIError.

Each wait for upstream bytes is one `asyncio.timeout_at` around a cancel-safe read: no task per chunk,
and nothing left behind to log "Task exception was never retrieved" when the client goes away.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import orjson
import structlog

log = structlog.get_logger(__name__)

HEARTBEAT = b": keep-alive\n\n"
DONE = b"data: [DONE]\n\n"
SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
_USAGE_MARKERS = (b'"usage":{', b'"usage": {')


@dataclass(frozen=True)
class StreamLimits:
    """What bounds a relayed stream; one per process, built in the lifespan."""

    heartbeat_seconds: float  # `: keep-alive` after this much silence
    max_seconds: float  # the longest request, streamed or not (its deadline)
    shutdown: asyncio.Future[None] | None = None  # done when open streams must end (the server is stopping)


class ServerShuttingDown(Exception):
    """The server's graceful timeout is about to run out: the stream must end now, with a reason."""


def sse_event(payload: dict[str, Any]) -> bytes:
    return b"data: " + orjson.dumps(payload) + b"\n\n"


def error_event(message: str, code: str, error_type: str = "server_error") -> bytes:
    return sse_event({"error": {"message": message, "type": error_type, "param": None, "code": code}})


def event_data(event: bytes) -> Any:
    """The decoded `data:` of one SSE event (`event:` and comment lines skipped); None if not JSON."""
    for line in event.split(b"\n"):
        if line.startswith(b"data:"):
            try:
                return orjson.loads(line[5:])
            except orjson.JSONDecodeError:
                return None
    return None


@dataclass(frozen=True)
class UsageEvents:
    """Where an endpoint's stream carries its usage, and whether the client asked to see that event."""

    usage_of: Callable[[Any], dict[str, Any] | None]  # the event's data -> usage in chat completions' shape
    forward: bool  # False: the event was requested for accounting only, the client did not ask for it


async def _chunks(
    read: Callable[[], Awaitable[bytes]], deadline: float, limits: StreamLimits
) -> AsyncIterator[bytes | None]:
    """Upstream's chunks; None after each `heartbeat_seconds` of silence.

    Raises TimeoutError at the deadline, and ServerShuttingDown when the server says open streams must end.
    """
    loop = asyncio.get_running_loop()
    shutdown = limits.shutdown
    waiting: list[asyncio.Timeout] = []  # the current wait, for the shutdown notice to cut short

    def cut_short(_: object) -> None:
        for timeout in waiting:
            timeout.reschedule(loop.time())

    if shutdown is not None:
        shutdown.add_done_callback(cut_short)
    try:
        while True:
            if shutdown is not None and shutdown.done():
                raise ServerShuttingDown
            now = loop.time()
            if now >= deadline:
                raise TimeoutError
            try:
                async with asyncio.timeout_at(min(now + limits.heartbeat_seconds, deadline)) as timeout:
                    waiting[:] = [timeout]
                    chunk = await read()
            except TimeoutError:
                if (shutdown is not None and shutdown.done()) or loop.time() >= deadline:
                    continue  # the checks at the top say which
                yield None
                continue
            finally:
                waiting.clear()
            if not chunk:
                return
            yield chunk
    finally:
        if shutdown is not None:
            shutdown.remove_done_callback(cut_short)


async def relay_events(
    read: Callable[[], Awaitable[bytes]],
    *,
    deadline: float,
    limits: StreamLimits,
    usage: UsageEvents,
    on_usage: Callable[[dict[str, Any]], None],
) -> AsyncIterator[bytes]:
    """Forward complete SSE events from upstream's bytes (see the module docstring)."""
    buffer = b""
    try:
        async for chunk in _chunks(read, deadline, limits):
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
                if any(marker in event for marker in _USAGE_MARKERS):
                    found = usage.usage_of(event_data(event))
                    if found is not None:
                        on_usage(found)
                        if not usage.forward:
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
