"""A stored completion replays as a stream the OpenAI SDK accepts, and a stream assembles back."""

from __future__ import annotations

from typing import Any

import orjson
from openai.types.chat import ChatCompletion, ChatCompletionChunk

from service.cache import StreamAssembler, is_complete, replay_events

COMPLETION: dict[str, Any] = {
    "id": "chatcmpl-1",
    "object": "chat.completion",
    "created": 1700000000,
    "model": "gpt-4o-mini-2024-07-18",
    "system_fingerprint": "fp_1",
    "choices": [
        {
            "index": 0,
            "message": {"role": "assistant", "content": "Red, green, blue.", "refusal": None},
            "logprobs": None,
            "finish_reason": "stop",
        },
        {
            "index": 1,
            "message": {
                "role": "assistant",
                "content": None,
                "refusal": None,
                "tool_calls": [
                    {"id": "call_1", "type": "function", "function": {"name": "lookup", "arguments": '{"q":1}'}}
                ],
            },
            "logprobs": None,
            "finish_reason": "tool_calls",
        },
    ],
    "usage": {"prompt_tokens": 12, "completion_tokens": 7, "total_tokens": 19},
}


def _chunks(events: list[bytes]) -> list[dict[str, Any]]:
    return [orjson.loads(e.removeprefix(b"data: ")) for e in events if e != b"data: [DONE]\n\n"]


def test_cached_stream_replays_usage_chunk_and_done() -> None:
    events = list(replay_events(COMPLETION, include_usage=True))
    assert events[-1] == b"data: [DONE]\n\n"
    chunks = [ChatCompletionChunk.model_validate(c) for c in _chunks(events)]
    assert chunks[-1].choices == []
    assert chunks[-1].usage is not None
    assert chunks[-1].usage.total_tokens == 19
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices and c.choices[0].index == 0) == (
        "Red, green, blue."
    )


def test_replay_without_include_usage_has_no_usage() -> None:
    chunks = _chunks(list(replay_events(COMPLETION, include_usage=False)))
    assert all("usage" not in c for c in chunks)


def test_replayed_stream_assembles_back_into_the_same_completion() -> None:
    assembler = StreamAssembler()
    for event in replay_events(COMPLETION, include_usage=True):
        assembler.feed(event[:7])  # arbitrary splits, as bytes arrive
        assembler.feed(event[7:] + b": keep-alive\n\n")
    rebuilt = assembler.completion()
    assert rebuilt == COMPLETION
    ChatCompletion.model_validate(rebuilt)


def test_unfinished_or_failed_streams_are_not_stored() -> None:
    events = list(replay_events(COMPLETION, include_usage=True))
    unfinished = StreamAssembler()
    for event in events[:-1]:
        unfinished.feed(event)
    assert unfinished.completion() is None
    failed = StreamAssembler()
    failed.feed(events[0] + b'data: {"error": {"message": "broke"}}\n\n' + events[-1])
    assert failed.completion() is None
    assert not is_complete({"object": "chat.completion", "choices": [{"finish_reason": None}], "usage": {}})
