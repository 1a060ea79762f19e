"""`POST /v1/embeddings` with the per-input cache (service.cache.embeddings): hits from the cache, the rest
through the one metered relay, the answer in the order the client asked.

Only the inputs OpenAI is sent are metered (limits, budget, usage, what the answer's `usage` says). A
request answered wholly from the cache is recorded as saved spend, as a response-cache hit is, and says
`X-Cache: HIT`; any other says `MISS`.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from service.api.metering import CACHE_HEADER
from service.cache import CacheStatus
from service.cache.embeddings import Cached, EmbeddingCache
from service.errors import UpstreamError
from service.guardrails import EmbeddingsRequest
from service.middleware import annotate
from service.ratelimit import count_text_tokens

if TYPE_CHECKING:
    from service.api.relay import Relay


async def embed(
    relay: Relay, cache: EmbeddingCache, request: Request, prepared: EmbeddingsRequest, client_id: str
) -> Response:
    texts = [str(item) for item in prepared.inputs]
    keys = cache.keys(client_id, prepared.params, texts)
    namespace, found = await cache.lookup(keys)
    missing = [index for index, entry in enumerate(found) if entry is None]
    if not missing:
        tokens = sum(entry.tokens for entry in found if entry is not None)
        usage = {"prompt_tokens": tokens, "total_tokens": tokens}
        annotate(request, cache=CacheStatus.HIT.value)
        await relay.metering.record_hit(client_id, prepared.model, usage)
        vectors = [entry.embedding for entry in found if entry is not None]
        payload = _answer(vectors, prepared.model, usage)
        return Response(
            orjson.dumps(payload), media_type="application/json", headers={CACHE_HEADER: CacheStatus.HIT.value}
        )

    asked = [texts[index] for index in missing]
    upstream_request = dataclasses.replace(prepared, params={**prepared.params, "input": asked}, inputs=tuple(asked))
    metered = await relay.metering.begin(upstream_request, client_id, request.headers)
    annotate(request, cache=CacheStatus.MISS.value)
    answered = _parse(await relay.complete(metered, upstream_request), len(asked))
    fresh = [item["embedding"] for item in sorted(answered["data"], key=lambda item: item["index"])]
    billed = int((answered.get("usage") or {}).get("prompt_tokens") or 0)
    await cache.store(namespace, _with_token_shares(keys, missing, fresh, asked, billed))
    vectors_by_index = dict(zip(missing, fresh, strict=True))
    vectors = [entry.embedding if entry is not None else vectors_by_index[i] for i, entry in enumerate(found)]
    payload = _answer(vectors, answered.get("model") or prepared.model, answered.get("usage"))
    headers = {**metered.headers(), CACHE_HEADER: CacheStatus.MISS.value}
    return Response(orjson.dumps(payload), media_type="application/json", headers=headers)


def _with_token_shares(
    keys: list[str], missing: list[int], fresh: list[Any], asked: list[str], billed: int
) -> list[tuple[str, Cached]]:
    """Each fresh vector with its share of the tokens billed (by its own estimate), for a later hit's savings."""
    estimates = [count_text_tokens(text) for text in asked]
    total = sum(estimates) or 1
    return [
        (keys[index], Cached(vector, round(billed * estimate / total)))
        for index, vector, estimate in zip(missing, fresh, estimates, strict=True)
    ]


def _parse(body: bytes, expected: int) -> dict[str, Any]:
    """OpenAI's answer, holding one embedding for each index asked, or a 502 saying it did not."""
    try:
        answered = orjson.loads(body)
    except orjson.JSONDecodeError:
        answered = None
    data = answered.get("data") if isinstance(answered, dict) else None
    items = data if isinstance(data, list) else []
    indices = sorted(
        item["index"]
        for item in items
        if isinstance(item, dict) and "embedding" in item and type(item.get("index")) is int
    )
    if not isinstance(answered, dict) or len(items) != expected or indices != list(range(expected)):
        raise UpstreamError("OpenAI returned an unexpected embeddings answer; try again")
    return answered


def _answer(vectors: list[Any], model: str, usage: Any) -> dict[str, Any]:
    data = [{"object": "embedding", "index": index, "embedding": vector} for index, vector in enumerate(vectors)]
    return {"object": "list", "data": data, "model": model, "usage": usage}
