"""The SSE relay in isolation: framing across arbitrary chunk boundaries, usage, heartbeats, budget."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from service.streaming import HEARTBEAT, StreamLimits, relay_events

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


async def _relay(source: AsyncIterator[bytes], include_usage: bool, **kw: Any) -> tuple[bytes, list[dict[str, Any]]]:
    seen: list[dict[str, Any]] = []
    out = b""
    async for part in relay_events(
        source,
        include_usage=include_usage,
        on_usage=seen.append,
        limits=StreamLimits(heartbeat_seconds=kw.get("heartbeat", 10), max_seconds=kw.get("max_seconds", 10)),
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
