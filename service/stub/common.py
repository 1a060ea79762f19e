"""What the stub's endpoints share: request keys, JSON answers, and paced SSE writing with mid-stream faults."""

from __future__ import annotations

import asyncio
import contextlib
import os
from typing import Any, Final

import orjson
from aiohttp import web

from service.stub.state import Fault, Knobs, StubState

STATE: Final = web.AppKey("stub_state", StubState)
BODY: Final = web.RequestKey("stub_body", object)  # the parsed JSON body, None when absent or invalid
FAULT: Final = web.RequestKey("stub_fault", object)  # the Fault this request consumed, if any
_JSON: Final = "application/json"

# One SSE event to write, with the content step that paces it (`tokens_per_second`).
Chunk = tuple[int, bytes]


def json_response(payload: object) -> web.Response:
    return web.Response(body=orjson.dumps(payload), content_type=_JSON)


def new_id(prefix: str, separator: str = "-") -> str:
    return f"{prefix}{separator}{os.urandom(12).hex()}"


async def pause(milliseconds: float) -> None:
    if milliseconds > 0:
        await asyncio.sleep(milliseconds / 1000)


def body_of(request: web.Request) -> dict[str, Any] | None:
    body = request.get(BODY)
    return body if isinstance(body, dict) else None


def positive_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1


def knobs_of(request: web.Request) -> Knobs:
    return request.app[STATE].knobs


def fault_of(request: web.Request) -> Fault | None:
    fault = request.get(FAULT)
    return fault if isinstance(fault, Fault) else None


async def stream(request: web.Request, chunks: list[Chunk]) -> web.StreamResponse:
    """Write `chunks` as server-sent events after `ttft_ms`, paced and faulted as configured."""
    response = web.StreamResponse(
        headers={"Content-Type": "text/event-stream; charset=utf-8", "Cache-Control": "no-cache"}
    )
    await pause(knobs_of(request).ttft_ms)
    # A client leaving mid-stream (a benchmark ending, a timeout) is normal: stop writing, quietly.
    with contextlib.suppress(ConnectionResetError):
        await response.prepare(request)
        await _write_chunks(request, response, chunks, knobs_of(request), fault_of(request))
    return response


async def _write_chunks(
    request: web.Request,
    response: web.StreamResponse,
    chunks: list[Chunk],
    knobs: Knobs,
    fault: Fault | None,
) -> None:
    if fault is None and knobs.tokens_per_second <= 0:
        await response.write(b"".join(data for _, data in chunks))  # one write: fast for benchmarks
        await response.write_eof()
        return
    loop = asyncio.get_running_loop()
    started = loop.time()
    for written, (step, data) in enumerate(chunks):
        if fault is not None and fault.stall_after_chunks == written:
            await pause(fault.stall_ms)
            started += fault.stall_ms / 1000
        if fault is not None and fault.drop_after_chunks == written:
            if request.transport is not None:
                request.transport.abort()
            return
        if knobs.tokens_per_second > 0:
            await asyncio.sleep(max(0.0, started + step / knobs.tokens_per_second - loop.time()))
        await response.write(data)
    await response.write_eof()
