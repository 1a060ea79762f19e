"""Stored completions in, SSE out, and back: a streamed hit is replayed as a proper stream, and a
streamed miss is assembled into the same `chat.completion` body a plain request would have stored.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import orjson

DONE = b"data: [DONE]\n\n"


def _event(payload: dict[str, Any]) -> bytes:
    return b"data: " + orjson.dumps(payload) + b"\n\n"


def is_complete(completion: Any) -> bool:
    """Worth storing: a finished answer with usage (hits are accounted from it). A chat completion whose every
    choice finished, a Responses `response` that completed, or an embeddings list."""
    if not isinstance(completion, dict) or not isinstance(completion.get("usage"), dict):
        return False
    kind = completion.get("object")
    if kind == "response":
        return completion.get("status") == "completed"
    if kind == "list":
        return isinstance(completion.get("data"), list) and bool(completion["data"])
    choices = completion.get("choices")
    return (
        kind == "chat.completion"
        and isinstance(choices, list)
        and bool(choices)
        and all(isinstance(c, dict) and c.get("finish_reason") for c in choices)
    )


def replay_events(completion: dict[str, Any], *, include_usage: bool) -> Iterator[bytes]:
    """The stream OpenAI would have sent: a delta per choice, a finish chunk, the usage chunk if asked, [DONE]."""
    head = {
        "id": completion.get("id"),
        "object": "chat.completion.chunk",
        "created": completion.get("created"),
        "model": completion.get("model"),
        "system_fingerprint": completion.get("system_fingerprint"),
    }
    if include_usage:
        head["usage"] = None
    for choice in completion["choices"]:
        message = choice.get("message") or {}
        delta: dict[str, Any] = {"role": message.get("role", "assistant"), "content": message.get("content")}
        if message.get("refusal") is not None:
            delta["refusal"] = message["refusal"]
        if message.get("tool_calls"):
            delta["tool_calls"] = [{"index": i, **call} for i, call in enumerate(message["tool_calls"])]
        index = choice.get("index", 0)
        yield _event(head | {"choices": [{"index": index, "delta": delta, "logprobs": None, "finish_reason": None}]})
        finish = {"index": index, "delta": {}, "logprobs": None, "finish_reason": choice["finish_reason"]}
        yield _event(head | {"choices": [finish]})
    if include_usage:
        yield _event(head | {"choices": [], "usage": completion["usage"]})
    yield DONE


class StreamAssembler:
    """Reads the SSE bytes of a streamed answer as they are relayed, and rebuilds the completion."""

    def __init__(self) -> None:
        self._buffer = b""
        self._head: dict[str, Any] = {}
        self._choices: dict[int, dict[str, Any]] = {}
        self._usage: dict[str, Any] | None = None
        self._done = False
        self._unusable = False  # an error event, or logprobs (which a replay would not carry)

    def set_usage(self, usage: dict[str, Any]) -> None:
        self._usage = usage

    def feed(self, data: bytes) -> None:
        self._buffer += data
        *events, self._buffer = self._buffer.split(b"\n\n")
        for event in events:
            self._event(event.strip())

    def _event(self, event: bytes) -> None:
        if not event.startswith(b"data:"):
            return  # keep-alive comments
        payload = event.removeprefix(b"data:").strip()
        if payload == b"[DONE]":
            self._done = True
            return
        try:
            chunk = orjson.loads(payload)
        except orjson.JSONDecodeError:
            self._unusable = True
            return
        if not isinstance(chunk, dict) or "error" in chunk:
            self._unusable = True
            return
        if not self._head:
            self._head = {k: chunk.get(k) for k in ("id", "created", "model", "system_fingerprint")}
        if isinstance(chunk.get("usage"), dict):
            self._usage = chunk["usage"]
        for choice in chunk.get("choices") or []:
            self._choice(choice)

    def _choice(self, choice: dict[str, Any]) -> None:
        state = self._choices.setdefault(
            choice.get("index", 0), {"role": "assistant", "content": None, "refusal": None, "tool_calls": {}}
        )
        if choice.get("logprobs"):
            self._unusable = True
        delta = choice.get("delta") or {}
        if delta.get("role"):
            state["role"] = delta["role"]
        for text_field in ("content", "refusal"):
            if delta.get(text_field) is not None:
                state[text_field] = (state[text_field] or "") + delta[text_field]
        for call in delta.get("tool_calls") or []:
            slot = state["tool_calls"].setdefault(
                call.get("index", 0), {"id": None, "type": "function", "function": {"name": "", "arguments": ""}}
            )
            slot["id"] = call.get("id") or slot["id"]
            slot["type"] = call.get("type") or slot["type"]
            function = call.get("function") or {}
            slot["function"]["name"] += function.get("name") or ""
            slot["function"]["arguments"] += function.get("arguments") or ""
        if choice.get("finish_reason"):
            state["finish_reason"] = choice["finish_reason"]

    def completion(self) -> dict[str, Any] | None:
        """The assembled `chat.completion`, or None if the stream did not finish cleanly."""
        if self._unusable or not self._done:
            return None
        choices = []
        for index in sorted(self._choices):
            state = self._choices[index]
            message: dict[str, Any] = {"role": state["role"], "content": state["content"], "refusal": state["refusal"]}
            if state["tool_calls"]:
                message["tool_calls"] = [state["tool_calls"][i] for i in sorted(state["tool_calls"])]
            choices.append(
                {"index": index, "message": message, "logprobs": None, "finish_reason": state.get("finish_reason")}
            )
        completion = {**self._head, "object": "chat.completion", "choices": choices, "usage": self._usage}
        return completion if is_complete(completion) else None
