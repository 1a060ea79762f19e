"""Question embeddings: cached, and coalesced into batched upstream requests (the guide's latency advice).

Concurrent questions do not each pay for an embeddings request: the first one to arrive opens a batch
that closes after `max_wait_seconds` or at `max_batch` texts, whichever comes first, and the whole batch
is one upstream request. The wait bounds the latency added (a few milliseconds by default); the size
bounds the request. Repeated questions are answered from a bounded in-process LRU cache.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any

from service.answers.index import normalized
from service.upstream.client import Upstream

EmbedMany = Callable[[list[str]], Awaitable[list[list[float]]]]


def upstream_embedder(upstream: Upstream, model: str, dimensions: int | None) -> EmbedMany:
    """Embed texts with one embeddings request, through the service's key refresh and error mapping."""

    extra: dict[str, Any] = {"dimensions": dimensions} if dimensions else {}

    async def embed_many(texts: list[str]) -> list[list[float]]:
        response: Any = await upstream.call(
            lambda: upstream.client.embeddings.create(model=model, input=texts, **extra)
        )
        ordered = sorted(response.data, key=lambda item: item.index)
        return [list(item.embedding) for item in ordered]

    return embed_many


class EmbeddingBatcher:
    def __init__(self, embed_many: EmbedMany, *, max_batch: int, max_wait_seconds: float) -> None:
        self._embed_many = embed_many
        self._max_batch = max_batch
        self._max_wait = max_wait_seconds
        self._pending: list[tuple[str, asyncio.Future[list[float]]]] = []
        self._timer: asyncio.TimerHandle | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.requests = 0  # upstream requests made, for tests and logs

    async def embed(self, text: str) -> list[float]:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[list[float]] = loop.create_future()
        self._pending.append((text, future))
        if len(self._pending) >= self._max_batch:
            self._flush()
        elif self._timer is None:
            self._timer = loop.call_later(self._max_wait, self._flush)
        return await future

    def _flush(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        batch, self._pending = self._pending, []
        if batch:
            task = asyncio.get_running_loop().create_task(self._run(batch))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _run(self, batch: list[tuple[str, asyncio.Future[list[float]]]]) -> None:
        texts = list(dict.fromkeys(text for text, _ in batch))  # the same question twice is embedded once
        self.requests += 1
        try:
            vectors = dict(zip(texts, await self._embed_many(texts), strict=True))
        except Exception as exc:
            for _, future in batch:
                if not future.done():
                    future.set_exception(exc)
                    future.exception()  # retrieved here: a waiter that gave up must not log it as lost
            return
        for text, future in batch:
            if not future.done():
                future.set_result(vectors[text])


class QuestionEmbeddings:
    """Unit vectors for questions: LRU cache first, then the batcher."""

    def __init__(self, batcher: EmbeddingBatcher, *, cache_size: int) -> None:
        self._batcher = batcher
        self._cache: OrderedDict[str, list[float]] = OrderedDict()
        self._cache_size = cache_size

    async def vector(self, question: str) -> list[float]:
        key = " ".join(question.split())
        cached = self._cache.get(key)
        if cached is not None:
            self._cache.move_to_end(key)
            return cached
        vector = normalized(await self._batcher.embed(key))
        self._cache[key] = vector
        if len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
        return vector
