"""The OpenAI-compatible endpoints: chat completions (plain and SSE), embeddings, moderations, models."""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from typing import Any, Final

import orjson
from aiohttp import web

from service.stub import text, vectors
from service.stub.errors import bad_request, error_response
from service.stub.state import Fault, Knobs, StubState

STATE: Final = web.AppKey("stub_state", StubState)
BODY: Final = web.RequestKey("stub_body", object)  # the parsed JSON body, None when absent or invalid
FAULT: Final = web.RequestKey("stub_fault", object)  # the Fault this request consumed, if any
FINGERPRINT: Final = "fp_stub"
MODELS: Final = ("gpt-4o-mini", "gpt-4o", "text-embedding-3-small", "text-embedding-3-large")
MODERATION_CATEGORIES: Final = (
    "harassment",
    "harassment/threatening",
    "hate",
    "hate/threatening",
    "illicit",
    "illicit/violent",
    "self-harm",
    "self-harm/instructions",
    "self-harm/intent",
    "sexual",
    "sexual/minors",
    "violence",
    "violence/graphic",
)
_FLAGGED_CATEGORY: Final = "harassment"
_JSON: Final = "application/json"


def _json(payload: object) -> web.Response:
    return web.Response(body=orjson.dumps(payload), content_type=_JSON)


def _new_id(prefix: str) -> str:
    return f"{prefix}-{os.urandom(12).hex()}"


async def _pause(milliseconds: float) -> None:
    if milliseconds > 0:
        await asyncio.sleep(milliseconds / 1000)


def _body(request: web.Request) -> dict[str, Any] | None:
    body = request.get(BODY)
    return body if isinstance(body, dict) else None


def _positive_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1


def _knobs(request: web.Request) -> Knobs:
    return request.app[STATE].knobs


async def chat_completions(request: web.Request) -> web.StreamResponse:
    body = _body(request)
    if body is None:
        return bad_request("We could not parse the JSON body of your request.")
    model, messages = body.get("model"), body.get("messages")
    if not isinstance(model, str) or not model:
        return bad_request("you must provide a model parameter", "model")
    if not isinstance(messages, list) or not messages or not all(isinstance(m, dict) for m in messages):
        return bad_request("'messages' must be a non-empty array of message objects", "messages")
    n = 1 if body.get("n") is None else body["n"]
    if not _positive_int(n) or n > 128:
        return bad_request(f"{n!r} is not valid for 'n': expected an integer from 1 to 128", "n")
    param = "max_completion_tokens" if body.get("max_completion_tokens") is not None else "max_tokens"
    max_tokens = body.get(param)
    if max_tokens is not None and not _positive_int(max_tokens):
        return bad_request(f"{max_tokens!r} is not valid for '{param}': expected a positive integer", param)
    stop = body.get("stop") or []
    stop = [stop] if isinstance(stop, str) else stop
    if not isinstance(stop, list) or len(stop) > 4 or not all(isinstance(s, str) for s in stop):
        return bad_request("'stop' must be a string or an array of up to 4 strings", "stop")

    knobs = _knobs(request)
    pieces, finish_reason = text.truncate(text.chat_reply(messages, knobs.reply_tokens), stop, max_tokens)
    prompt_tokens = text.prompt_tokens(messages)
    usage = {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": len(pieces) * n,
        "total_tokens": prompt_tokens + len(pieces) * n,
    }
    head = {"id": _new_id("chatcmpl"), "created": int(time.time()), "model": model}
    request.app[STATE].stats.bill(request.path, usage)
    if body.get("stream") is True:
        options = body.get("stream_options")
        include_usage = isinstance(options, dict) and options.get("include_usage") is True
        fault = request.get(FAULT)
        chunks = _chunks(head, pieces, finish_reason, n, usage if include_usage else None)
        return await _stream(request, chunks, knobs, fault if isinstance(fault, Fault) else None)

    await _pause(knobs.latency_ms)
    content = "".join(pieces)
    choices: list[dict[str, Any]] = [
        {
            "index": index,
            "message": {"role": "assistant", "content": content, "refusal": None, "annotations": []},
            "logprobs": None,
            "finish_reason": finish_reason,
        }
        for index in range(n)
    ]
    return _json(
        head | {"object": "chat.completion", "choices": choices, "usage": usage, "system_fingerprint": FINGERPRINT}
    )


def _chunks(
    head: dict[str, Any], pieces: list[str], finish_reason: str, n: int, usage: dict[str, int] | None
) -> list[tuple[int, bytes]]:
    """The SSE events of a streamed completion, each with the content step that paces it."""
    base = head | {"object": "chat.completion.chunk", "system_fingerprint": FINGERPRINT}
    if usage is not None:
        base["usage"] = None  # OpenAI's chunks carry `"usage": null` until the usage chunk

    def event(choice: int, delta: dict[str, Any], finish: str | None = None) -> bytes:
        choices = [{"index": choice, "delta": delta, "logprobs": None, "finish_reason": finish}]
        return b"data: " + orjson.dumps(base | {"choices": choices}) + b"\n\n"

    chunks = [(0, event(i, {"role": "assistant", "content": "", "refusal": None})) for i in range(n)]
    for step, piece in enumerate(pieces):
        chunks.extend((step, event(i, {"content": piece})) for i in range(n))
    chunks.extend((len(pieces), event(i, {}, finish_reason)) for i in range(n))
    if usage is not None:
        usage_event = base | {"choices": [], "usage": usage}
        chunks.append((len(pieces), b"data: " + orjson.dumps(usage_event) + b"\n\n"))
    chunks.append((len(pieces), b"data: [DONE]\n\n"))
    return chunks


async def _stream(
    request: web.Request, chunks: list[tuple[int, bytes]], knobs: Knobs, fault: Fault | None
) -> web.StreamResponse:
    response = web.StreamResponse(
        headers={"Content-Type": "text/event-stream; charset=utf-8", "Cache-Control": "no-cache"}
    )
    await _pause(knobs.ttft_ms)
    # A client leaving mid-stream (a benchmark ending, a timeout) is normal: stop writing, quietly.
    with contextlib.suppress(ConnectionResetError):
        await response.prepare(request)
        await _write_chunks(request, response, chunks, knobs, fault)
    return response


async def _write_chunks(
    request: web.Request,
    response: web.StreamResponse,
    chunks: list[tuple[int, bytes]],
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
            await _pause(fault.stall_ms)
            started += fault.stall_ms / 1000
        if fault is not None and fault.drop_after_chunks == written:
            if request.transport is not None:
                request.transport.abort()
            return
        if knobs.tokens_per_second > 0:
            await asyncio.sleep(max(0.0, started + step / knobs.tokens_per_second - loop.time()))
        await response.write(data)
    await response.write_eof()


def _inputs(value: object) -> list[str] | None:
    """Embedding/moderation input as texts: a string, strings, token ids, or text content parts."""
    if isinstance(value, str):
        return [value]
    if not isinstance(value, list) or not value:
        return None
    if all(isinstance(item, int) for item in value):
        return [" ".join(map(str, value))]
    texts: list[str] = []
    for item in value:
        if isinstance(item, str):
            texts.append(item)
        elif isinstance(item, list) and all(isinstance(token, int) for token in item):
            texts.append(" ".join(map(str, item)))
        elif isinstance(item, dict) and isinstance(item.get("text"), str):
            texts.append(item["text"])
        elif not (isinstance(item, dict) and item.get("type") == "image_url"):
            return None
    return texts


async def embeddings(request: web.Request) -> web.StreamResponse:
    body = _body(request)
    if body is None:
        return bad_request("We could not parse the JSON body of your request.")
    model = body.get("model")
    if not isinstance(model, str) or not model:
        return bad_request("you must provide a model parameter", "model")
    inputs = _inputs(body.get("input"))
    if inputs is None or not all(inputs):
        return bad_request("'input' must be a non-empty string or array of non-empty strings", "input")
    dimensions = body.get("dimensions") or vectors.DEFAULT_DIMENSIONS
    if not _positive_int(dimensions) or dimensions > vectors.MAX_DIMENSIONS:
        return bad_request(f"'dimensions' must be an integer from 1 to {vectors.MAX_DIMENSIONS}", "dimensions")
    encoding = body.get("encoding_format") or "float"
    if encoding not in ("float", "base64"):
        return bad_request("'encoding_format' must be 'float' or 'base64'", "encoding_format")

    await _pause(_knobs(request).latency_ms)
    data = []
    for index, item in enumerate(inputs):
        vector = vectors.embed(item, dimensions)
        embedding = vectors.encode_base64(vector) if encoding == "base64" else vector
        data.append({"object": "embedding", "index": index, "embedding": embedding})
    tokens = sum(text.count_tokens(item) for item in inputs)
    usage = {"prompt_tokens": tokens, "total_tokens": tokens}
    request.app[STATE].stats.bill(request.path, usage)
    return _json({"object": "list", "data": data, "model": model, "usage": usage})


async def moderations(request: web.Request) -> web.StreamResponse:
    body = _body(request)
    if body is None:
        return bad_request("We could not parse the JSON body of your request.")
    inputs = _inputs(body.get("input"))
    if inputs is None:
        return bad_request("'input' must be a string, an array of strings or of content parts", "input")
    marker = _knobs(request).moderation_marker
    await _pause(_knobs(request).latency_ms)
    results = []
    for item in inputs:
        flagged = marker in item
        categories = {name: flagged and name == _FLAGGED_CATEGORY for name in MODERATION_CATEGORIES}
        scores = {name: 0.99 if hit else 0.0001 for name, hit in categories.items()}
        applied = {name: ["text"] for name in MODERATION_CATEGORIES}
        results.append(
            {
                "flagged": flagged,
                "categories": categories,
                "category_scores": scores,
                "category_applied_input_types": applied,
            }
        )
    model = body.get("model") if isinstance(body.get("model"), str) else "omni-moderation-latest"
    return _json({"id": _new_id("modr"), "model": model, "results": results})


async def models(request: web.Request) -> web.StreamResponse:
    data = [{"id": name, "object": "model", "created": 1_700_000_000, "owned_by": "stub"} for name in MODELS]
    return _json({"object": "list", "data": data})


async def not_found(request: web.Request) -> web.StreamResponse:
    return error_response(404, f"Invalid URL ({request.method} {request.path})")


def add_routes(app: web.Application) -> None:
    app.router.add_post("/v1/chat/completions", chat_completions)
    app.router.add_post("/v1/embeddings", embeddings)
    app.router.add_post("/v1/moderations", moderations)
    app.router.add_get("/v1/models", models)
    app.router.add_route("*", "/v1/{tail:.*}", not_found)
