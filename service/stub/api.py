"""The OpenAI-compatible endpoints: chat completions (plain and SSE), embeddings, moderations, models.

`POST /v1/responses` is in `service.stub.responses`; what the endpoints share is in `service.stub.common`.
"""

from __future__ import annotations

import time
from typing import Any, Final

import orjson
from aiohttp import web

from service.catalog import CATALOG
from service.stub import responses, text, vectors
from service.stub.common import (
    STATE,
    Chunk,
    body_of,
    json_response,
    knobs_of,
    new_id,
    pause,
    positive_int,
    stream,
)
from service.stub.errors import bad_request, error_response

FINGERPRINT: Final = "fp_stub"
MODELS: Final = tuple(CATALOG)  # every model the service knows; other names are answered too, but not listed
MODEL_CREATED: Final = 1_700_000_000
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


async def chat_completions(request: web.Request) -> web.StreamResponse:
    body = body_of(request)
    if body is None:
        return bad_request("We could not parse the JSON body of your request.")
    model, messages = body.get("model"), body.get("messages")
    if not isinstance(model, str) or not model:
        return bad_request("you must provide a model parameter", "model")
    if not isinstance(messages, list) or not messages or not all(isinstance(m, dict) for m in messages):
        return bad_request("'messages' must be a non-empty array of message objects", "messages")
    n = 1 if body.get("n") is None else body["n"]
    if not positive_int(n) or n > 128:
        return bad_request(f"{n!r} is not valid for 'n': expected an integer from 1 to 128", "n")
    param = "max_completion_tokens" if body.get("max_completion_tokens") is not None else "max_tokens"
    max_tokens = body.get(param)
    if max_tokens is not None and not positive_int(max_tokens):
        return bad_request(f"{max_tokens!r} is not valid for '{param}': expected a positive integer", param)
    stop = body.get("stop") or []
    stop = [stop] if isinstance(stop, str) else stop
    if not isinstance(stop, list) or len(stop) > 4 or not all(isinstance(s, str) for s in stop):
        return bad_request("'stop' must be a string or an array of up to 4 strings", "stop")
    effort = body.get("reasoning_effort")

    knobs = knobs_of(request)
    reply = text.reply(
        messages,
        model=model,
        effort=effort if isinstance(effort, str) else None,
        stop=stop,
        max_tokens=max_tokens,
        reply_tokens=knobs.reply_tokens,
    )
    prompt_tokens = text.prompt_tokens(messages)
    usage: dict[str, Any] = {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": reply.output_tokens * n,
        "total_tokens": prompt_tokens + reply.output_tokens * n,
    }
    request.app[STATE].stats.bill(request.path, usage)
    if reply.reasoning_tokens:
        usage["completion_tokens_details"] = {"reasoning_tokens": reply.reasoning_tokens * n}
        request.app[STATE].stats.bill(request.path, {"reasoning_tokens": reply.reasoning_tokens * n})
    head = {"id": new_id("chatcmpl"), "created": int(time.time()), "model": model}
    if body.get("stream") is True:
        options = body.get("stream_options")
        include_usage = isinstance(options, dict) and options.get("include_usage") is True
        return await stream(request, _chunks(head, reply, n, usage if include_usage else None))

    await pause(knobs.latency_ms)
    content = "".join(reply.pieces)
    choices: list[dict[str, Any]] = [
        {
            "index": index,
            "message": {"role": "assistant", "content": content, "refusal": None, "annotations": []},
            "logprobs": None,
            "finish_reason": reply.finish_reason,
        }
        for index in range(n)
    ]
    return json_response(
        head | {"object": "chat.completion", "choices": choices, "usage": usage, "system_fingerprint": FINGERPRINT}
    )


def _chunks(head: dict[str, Any], reply: text.Reply, n: int, usage: dict[str, Any] | None) -> list[Chunk]:
    """The SSE events of a streamed completion, each with the content step that paces it."""
    base = head | {"object": "chat.completion.chunk", "system_fingerprint": FINGERPRINT}
    if usage is not None:
        base["usage"] = None  # OpenAI's chunks carry `"usage": null` until the usage chunk

    def event(choice: int, delta: dict[str, Any], finish: str | None = None) -> bytes:
        choices = [{"index": choice, "delta": delta, "logprobs": None, "finish_reason": finish}]
        return b"data: " + orjson.dumps(base | {"choices": choices}) + b"\n\n"

    pieces = reply.pieces
    chunks = [(0, event(i, {"role": "assistant", "content": "", "refusal": None})) for i in range(n)]
    for step, piece in enumerate(pieces):
        chunks.extend((step, event(i, {"content": piece})) for i in range(n))
    chunks.extend((len(pieces), event(i, {}, reply.finish_reason)) for i in range(n))
    if usage is not None:
        usage_event = base | {"choices": [], "usage": usage}
        chunks.append((len(pieces), b"data: " + orjson.dumps(usage_event) + b"\n\n"))
    chunks.append((len(pieces), b"data: [DONE]\n\n"))
    return chunks


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
    body = body_of(request)
    if body is None:
        return bad_request("We could not parse the JSON body of your request.")
    model = body.get("model")
    if not isinstance(model, str) or not model:
        return bad_request("you must provide a model parameter", "model")
    inputs = _inputs(body.get("input"))
    if inputs is None or not all(inputs):
        return bad_request("'input' must be a non-empty string or array of non-empty strings", "input")
    dimensions = body.get("dimensions") or vectors.DEFAULT_DIMENSIONS
    if not positive_int(dimensions) or dimensions > vectors.MAX_DIMENSIONS:
        return bad_request(f"'dimensions' must be an integer from 1 to {vectors.MAX_DIMENSIONS}", "dimensions")
    encoding = body.get("encoding_format") or "float"
    if encoding not in ("float", "base64"):
        return bad_request("'encoding_format' must be 'float' or 'base64'", "encoding_format")

    await pause(knobs_of(request).latency_ms)
    data = []
    for index, item in enumerate(inputs):
        vector = vectors.embed(item, dimensions)
        embedding = vectors.encode_base64(vector) if encoding == "base64" else vector
        data.append({"object": "embedding", "index": index, "embedding": embedding})
    tokens = sum(text.count_tokens(item) for item in inputs)
    usage = {"prompt_tokens": tokens, "total_tokens": tokens}
    request.app[STATE].stats.bill(request.path, usage)
    return json_response({"object": "list", "data": data, "model": model, "usage": usage})


async def moderations(request: web.Request) -> web.StreamResponse:
    body = body_of(request)
    if body is None:
        return bad_request("We could not parse the JSON body of your request.")
    inputs = _inputs(body.get("input"))
    if inputs is None:
        return bad_request("'input' must be a string, an array of strings or of content parts", "input")
    marker = knobs_of(request).moderation_marker
    await pause(knobs_of(request).latency_ms)
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
    return json_response({"id": new_id("modr"), "model": model, "results": results})


def _model_object(name: str) -> dict[str, Any]:
    return {"id": name, "object": "model", "created": MODEL_CREATED, "owned_by": "stub"}


async def models(request: web.Request) -> web.StreamResponse:
    return json_response({"object": "list", "data": [_model_object(name) for name in MODELS]})


async def model(request: web.Request) -> web.StreamResponse:
    name = request.match_info["model"]
    if name not in MODELS:
        message = f"The model `{name}` does not exist or you do not have access to it."
        return error_response(404, message, code="model_not_found", param="model")
    return json_response(_model_object(name))


async def not_found(request: web.Request) -> web.StreamResponse:
    return error_response(404, f"Invalid URL ({request.method} {request.path})")


def add_routes(app: web.Application) -> None:
    app.router.add_post("/v1/chat/completions", chat_completions)
    app.router.add_post("/v1/embeddings", embeddings)
    app.router.add_post("/v1/moderations", moderations)
    app.router.add_post("/v1/responses", responses.create)
    app.router.add_get("/v1/models", models)
    app.router.add_get("/v1/models/{model}", model)
    app.router.add_route("*", "/v1/{tail:.*}", not_found)
