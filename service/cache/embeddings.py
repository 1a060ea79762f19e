"""The embeddings cache: one entry per input text, so a request that repeats some inputs pays for the rest only.

A text's vector does not depend on the other inputs of its request, so the unit of reuse is the input, not
the request: `[a, b]` then `[a, c]` sends only `c` upstream the second time. The relay looks every input
up in one read, sends the missing ones, answers in the order asked, and stores what it was sent, all
through the shared state (Redis, or the in-process store). Text inputs are cached, in the encoding asked
for (`float`, or the `base64` the Python SDK asks for by default); token-id inputs go upstream as sent.
Entries are per client unless `CACHE_SCOPE=shared`, and live `CACHE_TTL_SECONDS`. Each carries the response
cache's namespace version, read in the same round trip as the entries, so the admin's invalidation
(`POST /v1/admin/cache/invalidate`) retires them too.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from service.cache.response_cache import NAMESPACE_KEY
from service.state import Put, SharedState, StateUnavailable, Writes

KEY_SCHEMA = "v1"


@dataclass(frozen=True)
class Cached:
    """A stored vector and the tokens its text was billed for (to count a hit's saved spend)."""

    embedding: Any  # a list of floats, or its base64 text, as the request's encoding_format asked
    tokens: int


def cacheable(inputs: Sequence[Any]) -> bool:
    """Text inputs: what this cache holds."""
    return all(isinstance(item, str) for item in inputs)


class EmbeddingCache:
    def __init__(self, state: SharedState, *, ttl_seconds: int, shared: bool) -> None:
        self._state = state
        self._ttl_ms = ttl_seconds * 1000
        self._shared = shared

    def keys(self, client_id: str, params: dict[str, Any], texts: Sequence[str]) -> list[str]:
        """One key per text: the scope, and everything that changes its vector (model, dimensions, encoding)."""
        scope = "shared" if self._shared else client_id
        shape = [params.get("model"), params.get("dimensions"), params.get("encoding_format") or "float"]
        head = orjson.dumps([KEY_SCHEMA, scope, *shape])
        return [f"embedding:{hashlib.sha256(head + text.encode()).hexdigest()}" for text in texts]

    async def lookup(self, keys: Sequence[str]) -> tuple[int, list[Cached | None]]:
        """The namespace version and every key's entry (None: a miss, or one from an older namespace), in one
        read; all misses when the state backend is unavailable."""
        try:
            namespace_raw, *raw = await self._state.store.get_many([NAMESPACE_KEY, *keys])
        except StateUnavailable:
            return 0, [None] * len(keys)
        namespace = int(namespace_raw or 0)
        found: list[Cached | None] = []
        for value in raw:
            entry = orjson.loads(value) if value is not None else None
            current = isinstance(entry, dict) and entry.get("n") == namespace
            found.append(Cached(entry["e"], entry["t"]) if current and isinstance(entry, dict) else None)
        return namespace, found

    async def store(self, namespace: int, entries: Sequence[tuple[str, Cached]]) -> None:
        """Store fresh vectors in one write; an unwritten entry only costs a later upstream call."""
        puts = tuple(
            Put(key, orjson.dumps({"n": namespace, "e": cached.embedding, "t": cached.tokens}), self._ttl_ms)
            for key, cached in entries
        )
        if puts:
            await self._state.settle(Writes(puts=puts))
