"""`POST /v1/responses`: a `response` object, or its events when streamed, as OpenAI sends them.

The reply is the chat reply to the same conversation (`instructions` as a system message, then the input
items). A reasoning model (service/catalog.py) first spends `text.REASONING_TOKENS[effort]` tokens, which
show as a reasoning output item and in `output_tokens_details.reasoning_tokens`, and count against
`max_output_tokens`; a reply cut short by it ends `incomplete`, as OpenAI's does.

Streamed, the events are `event: <type>` + `data: <json>` pairs with increasing `sequence_number`s:
response.created, response.in_progress, [reasoning item added and done], response.output_item.added,
response.content_part.added, response.output_text.delta per token, response.output_text.done,
response.content_part.done, response.output_item.done, then response.completed (or response.incomplete)
carrying the whole response and its usage. No `[DONE]`: OpenAI sends none on this endpoint.
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass, field
from typing import Any, Final

import orjson
from aiohttp import web

from service.catalog import spec_for
from service.stub import text
from service.stub.common import STATE, Chunk, body_of, json_response, knobs_of, new_id, pause, positive_int, stream
from service.stub.errors import bad_request

MIN_OUTPUT_TOKENS: Final = 16  # OpenAI's own floor for max_output_tokens


@dataclass(frozen=True)
class _Ids:
    response: str = field(default_factory=lambda: new_id("resp", "_"))
    reasoning: str = field(default_factory=lambda: new_id("rs", "_"))
    message: str = field(default_factory=lambda: new_id("msg", "_"))


def _messages(body: dict[str, Any]) -> list[dict[str, Any]] | None:
    """The conversation as chat messages; None when `input` is neither a string nor a list of items."""
    messages: list[dict[str, Any]] = []
    if isinstance(instructions := body.get("instructions"), str):
        messages.append({"role": "system", "content": instructions})
    given = body.get("input")
    if isinstance(given, str):
        messages.append({"role": "user", "content": given})
    elif isinstance(given, list) and all(isinstance(item, dict) for item in given):
        for item in given:
            if isinstance(item.get("output"), str):  # a tool's output
                messages.append({"role": "tool", "content": item["output"]})
            elif "role" in item:  # a message; other items (tool calls, reasoning) carry no text to answer
                messages.append({"role": item["role"], "content": item.get("content")})
    elif given is not None:
        return None
    return messages


def _effort(body: dict[str, Any], model: str) -> str | None:
    reasoning = body.get("reasoning")
    asked = reasoning.get("effort") if isinstance(reasoning, dict) else None
    if isinstance(asked, str):
        return asked
    spec = spec_for(model)
    return spec.default_effort if spec is not None else None


def _text_part(words: str) -> dict[str, Any]:
    return {"type": "output_text", "text": words, "annotations": [], "logprobs": []}


def _message(ids: _Ids, words: str | None, status: str) -> dict[str, Any]:
    content = [] if words is None else [_text_part(words)]
    return {"id": ids.message, "type": "message", "status": status, "role": "assistant", "content": content}


def _reasoning_item(ids: _Ids) -> dict[str, Any]:
    return {"id": ids.reasoning, "type": "reasoning", "summary": []}


def _status(reply: text.Reply) -> str:
    return "incomplete" if reply.finish_reason == "length" else "completed"


def _output(ids: _Ids, reply: text.Reply) -> list[dict[str, Any]]:
    output = [_reasoning_item(ids)] if reply.reasoning_tokens else []
    if reply.pieces:
        output.append(_message(ids, "".join(reply.pieces), _status(reply)))
    return output


def _response(
    body: dict[str, Any],
    model: str,
    ids: _Ids,
    created_at: int,
    *,
    reply: text.Reply | None = None,
    usage: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The response object: in progress (no reply yet), or finished with its output and usage."""
    status = "in_progress" if reply is None else _status(reply)
    return {
        "id": ids.response,
        "object": "response",
        "created_at": created_at,
        "status": status,
        "background": False,
        "completed_at": int(time.time()) if status == "completed" else None,
        "error": None,
        "incomplete_details": {"reason": "max_output_tokens"} if status == "incomplete" else None,
        "instructions": body.get("instructions"),
        "max_output_tokens": body.get("max_output_tokens"),
        "max_tool_calls": body.get("max_tool_calls"),
        "metadata": body.get("metadata") or {},
        "model": model,
        "output": [] if reply is None else _output(ids, reply),
        "parallel_tool_calls": body.get("parallel_tool_calls", True),
        "previous_response_id": body.get("previous_response_id"),
        "reasoning": {"effort": _effort(body, model), "summary": None},
        "safety_identifier": body.get("safety_identifier"),
        "service_tier": "default",
        "store": body.get("store", True),
        "temperature": body.get("temperature", 1.0),
        "text": body.get("text") or {"format": {"type": "text"}},
        "tool_choice": body.get("tool_choice", "auto"),
        "tools": body.get("tools") or [],
        "top_logprobs": body.get("top_logprobs", 0),
        "top_p": body.get("top_p", 1.0),
        "truncation": body.get("truncation", "disabled"),
        "usage": usage,
        "user": body.get("user"),
    }


def _usage(prompt_tokens: int, reply: text.Reply) -> dict[str, Any]:
    return {
        "input_tokens": prompt_tokens,
        "input_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 0},
        "output_tokens": reply.output_tokens,
        "output_tokens_details": {"reasoning_tokens": reply.reasoning_tokens},
        "total_tokens": prompt_tokens + reply.output_tokens,
    }


def _events(start: dict[str, Any], final: dict[str, Any], ids: _Ids, reply: text.Reply) -> list[Chunk]:
    """The SSE events of a streamed response, each with the content step that paces it."""
    numbers = itertools.count()

    def event(step: int, kind: str, **fields: Any) -> Chunk:
        data = orjson.dumps({"type": kind, "sequence_number": next(numbers), **fields})
        return step, b"event: " + kind.encode() + b"\ndata: " + data + b"\n\n"

    chunks = [event(0, "response.created", response=start), event(0, "response.in_progress", response=start)]
    index = 0
    if reply.reasoning_tokens:
        item = _reasoning_item(ids)
        chunks += [
            event(0, "response.output_item.added", output_index=0, item=item),
            event(0, "response.output_item.done", output_index=0, item=item),
        ]
        index = 1
    end = len(reply.pieces)
    if reply.pieces:
        words = "".join(reply.pieces)
        where = {"item_id": ids.message, "output_index": index, "content_index": 0}
        chunks += [
            event(0, "response.output_item.added", output_index=index, item=_message(ids, None, "in_progress")),
            event(0, "response.content_part.added", **where, part=_text_part("")),
        ]
        chunks += [
            event(step, "response.output_text.delta", **where, delta=piece, logprobs=[])
            for step, piece in enumerate(reply.pieces)
        ]
        chunks += [
            event(end, "response.output_text.done", **where, text=words, logprobs=[]),
            event(end, "response.content_part.done", **where, part=_text_part(words)),
            event(end, "response.output_item.done", output_index=index, item=_message(ids, words, _status(reply))),
        ]
    chunks.append(event(end, f"response.{final['status']}", response=final))
    return chunks


async def create(request: web.Request) -> web.StreamResponse:
    body = body_of(request)
    if body is None:
        return bad_request("We could not parse the JSON body of your request.")
    model = body.get("model")
    if not isinstance(model, str) or not model:
        return bad_request("Missing required parameter: 'model'.", "model")
    messages = _messages(body)
    if messages is None:
        return bad_request("Invalid type for 'input': expected a string or an array of input items.", "input")
    max_output = body.get("max_output_tokens")
    if max_output is not None and not (positive_int(max_output) and max_output >= MIN_OUTPUT_TOKENS):
        return bad_request(
            f"Invalid 'max_output_tokens': expected an integer >= {MIN_OUTPUT_TOKENS}, but got {max_output!r} instead.",
            "max_output_tokens",
        )

    knobs = knobs_of(request)
    reply = text.reply(
        messages, model=model, effort=_effort(body, model), max_tokens=max_output, reply_tokens=knobs.reply_tokens
    )
    prompt_tokens = text.prompt_tokens(messages)
    usage = _usage(prompt_tokens, reply)
    request.app[STATE].stats.bill(
        request.path,
        {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": reply.output_tokens,
            "total_tokens": usage["total_tokens"],
            "reasoning_tokens": reply.reasoning_tokens,
        },
    )
    ids, created_at = _Ids(), int(time.time())
    final = _response(body, model, ids, created_at, reply=reply, usage=usage)
    if body.get("stream") is True:
        return await stream(request, _events(_response(body, model, ids, created_at), final, ids, reply))
    await pause(knobs.latency_ms)
    return json_response(final)
