"""The SSE relay in isolation: framing across arbitrary chunk boundaries, usage, heartbeats, budget."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from functools import partial
from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from service.streaming import HEARTBEAT, StreamLimits, UsageEvents, relay_events
from service.usage import usage_of

EVENTS = [
    b'data: {"choices":[{"delta":{"content":"Hel"}}],"usage":null}',
    b'data: {"choices":[{"delta":{"content":"lo"}}],"usage":null}',
    b'data: {"choices":[],"usage":{"prompt_tokens":3,"completion_tokens":2,"total_tokens":5}}',
    b"data: [DONE]",
]
STREAM = b"\n\n".join(EVENTS) + b"\n\n"


async def _pieces(data: bytes, cuts: list[int], pause: float = 0.0) -> AsyncIterator[bytes]:
    start = 0
    for cut in [*sorted(set(cuts)), len(data)]:
        if cut > start:
            if pause:
                await asyncio.sleep(pause)
            yield data[start:cut]
            start = cut


def _reader(source: AsyncIterator[bytes]) -> Callable[[], Awaitable[bytes]]:
    """A cancel-safe read of `source`, as aiohttp's `readany` is: b"" at the end; its error, raised."""
    queue: asyncio.Queue[bytes | BaseException] = asyncio.Queue()

    async def produce() -> None:
        try:
            async for piece in source:
                await queue.put(piece)
            await queue.put(b"")
        except Exception as exc:
            await queue.put(exc)

    task = asyncio.get_running_loop().create_task(produce())

    async def read() -> bytes:
        item = await queue.get()
        if isinstance(item, BaseException):
            raise item
        _ = task  # the producer lives as long as its reader
        return item

    return read


async def _relay(
    source: AsyncIterator[bytes], include_usage: bool, endpoint: str = "/chat/completions", **kw: Any
) -> tuple[bytes, list[dict[str, Any]]]:
    seen: list[dict[str, Any]] = []
    out = b""
    limits = StreamLimits(kw.get("heartbeat", 10), kw.get("max_seconds", 10), kw.get("shutdown"))
    async for part in relay_events(
        _reader(source),
        deadline=asyncio.get_running_loop().time() + limits.max_seconds,
        limits=limits,
        usage=UsageEvents(partial(usage_of, endpoint), forward=include_usage),
        on_usage=seen.append,
    ):
        out += part
    return out, seen


@given(cuts=st.lists(st.integers(min_value=1, max_value=len(STREAM) - 1), max_size=12), include=st.booleans())
def test_events_survive_any_chunking_and_usage_is_seen_once(cuts: list[int], include: bool) -> None:
    out, seen = asyncio.run(_relay(_pieces(STREAM, cuts), include))
    assert seen == [{"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}]
    expected = EVENTS if include else [EVENTS[0], EVENTS[1], EVENTS[3]]
    assert [e for e in out.split(b"\n\n") if e] == expected


def test_quiet_upstream_yields_heartbeats_then_the_rest() -> None:
    out, _ = asyncio.run(_relay(_pieces(STREAM, [10, 200], pause=0.15), True, heartbeat=0.05))
    assert HEARTBEAT in out
    assert out.replace(HEARTBEAT, b"") == STREAM


def test_stream_over_budget_ends_with_an_openai_error_event() -> None:
    out, _ = asyncio.run(_relay(_pieces(STREAM, [10, 200], pause=0.3), True, heartbeat=0.05, max_seconds=0.4))
    last = [e for e in out.split(b"\n\n") if e.startswith(b"data: ")][-1]
    assert orjson.loads(last[6:])["error"]["code"] == "stream_timeout"
    assert b"[DONE]" not in out


def test_broken_upstream_mid_stream_ends_with_an_error_event() -> None:
    async def broken() -> AsyncIterator[bytes]:
        yield EVENTS[0] + b"\n\n"
        raise ConnectionResetError

    out, _ = asyncio.run(_relay(broken(), True))
    assert out.startswith(EVENTS[0])
    assert b'"code":"upstream_error"' in out


@pytest.mark.parametrize("cuts", [[], [5]])
def test_trailing_event_without_blank_line_is_still_delivered(cuts: list[int]) -> None:
    out, _ = asyncio.run(_relay(_pieces(b"data: [DONE]", cuts), True))
    assert out == b"data: [DONE]\n\n"


RESPONSES_EVENTS = [
    b'event: response.created\ndata: {"type":"response.created","response":{"id":"resp_1","usage":null}}',
    b'event: response.output_text.delta\ndata: {"type":"response.output_text.delta","delta":"Hi"}',
    b'event: response.completed\ndata: {"type":"response.completed","response":{"id":"resp_1","usage":'
    b'{"input_tokens":7,"input_tokens_details":{"cached_tokens":2},"output_tokens":5,'
    b'"output_tokens_details":{"reasoning_tokens":3},"total_tokens":12}}}',
]


def test_responses_usage_is_read_from_the_completed_event_and_the_event_is_passed_on() -> None:
    stream = b"\n\n".join(RESPONSES_EVENTS) + b"\n\n"
    out, seen = asyncio.run(_relay(_pieces(stream, [40, 90]), True, endpoint="/responses"))
    assert out == stream
    assert seen == [
        {
            "prompt_tokens": 7,
            "prompt_tokens_details": {"cached_tokens": 2},
            "completion_tokens": 5,
            "completion_tokens_details": {"reasoning_tokens": 3},
            "total_tokens": 12,
        }
    ]


def test_the_shutdown_notice_ends_a_quiet_stream_at_once_with_a_reason() -> None:
    async def main() -> bytes:
        loop = asyncio.get_running_loop()
        notice: asyncio.Future[None] = loop.create_future()
        loop.call_later(0.1, notice.set_result, None)
        started = loop.time()
        out, _ = await _relay(_pieces(STREAM, [10], pause=30), True, heartbeat=20, shutdown=notice)
        assert loop.time() - started < 10  # woken by the notice, not by a heartbeat or the budget
        return out

    out = asyncio.run(main())
    assert b'"code":"server_shutting_down"' in out
