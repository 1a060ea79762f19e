"""Question embeddings: cached, and coalesced into batched upstream requests (the guide's latency advice).

Concurrent questions do not each pay for an embeddings request: the first one to arrive opens a batch
that closes after `max_wait_seconds` or at `max_batch` texts, whichever comes first, and the whole batch
is one upstream request. The wait bounds the latency added (a few milliseconds by default); the size
bounds the request. Repeated questions are answered from a bounded in-process LRU cache.

With a meter (service.api.embedding_metering), each question is reserved on its client's budget before
it joins a batch, each batch goes through the fleet's upstream guard, and what OpenAI bills for the batch
is shared out among its questions' clients.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from service.answers.index import normalized
from service.api.embedding_metering import EmbedCall, Embedded, EmbeddingMeter, EmbeddingTicket
from service.upstream.client import Upstream


def upstream_embedder(upstream: Upstream, model: str, dimensions: int | None) -> EmbedCall:
    """Embed texts with one embeddings request, through the service's key refresh and error mapping."""

    extra: dict[str, Any] = {"dimensions": dimensions} if dimensions else {}

    async def embed_many(texts: list[str]) -> Embedded:
        response: Any = await upstream.call(
            lambda: upstream.client.embeddings.create(model=model, input=texts, **extra)
        )
        ordered = sorted(response.data, key=lambda item: item.index)
        usage = getattr(response, "usage", None)
        return Embedded([list(item.embedding) for item in ordered], int(getattr(usage, "prompt_tokens", 0) or 0))

    return embed_many


@dataclass
class _Waiting:
    text: str
    future: asyncio.Future[list[float]]
    ticket: EmbeddingTicket | None


class EmbeddingBatcher:
    def __init__(
        self, embed_many: EmbedCall, *, max_batch: int, max_wait_seconds: float, meter: EmbeddingMeter | None = None
    ) -> None:
        self._embed_many = embed_many
        self._max_batch = max_batch
        self._max_wait = max_wait_seconds
        self._meter = meter
        self._pending: list[_Waiting] = []
        self._timer: asyncio.TimerHandle | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.requests = 0  # upstream requests made, for tests and logs

    async def embed(self, text: str, ticket: EmbeddingTicket | None = None) -> list[float]:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[list[float]] = loop.create_future()
        self._pending.append(_Waiting(text, future, ticket))
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

    async def _run(self, batch: list[_Waiting]) -> None:
        texts = list(dict.fromkeys(waiting.text for waiting in batch))  # the same question twice is embedded once
        tickets = [waiting.ticket for waiting in batch if waiting.ticket is not None]
        meter, permit = self._meter, None
        self.requests += 1
        try:
            if meter is not None:
                permit = await meter.acquire(sum(ticket.estimated_tokens for ticket in tickets))
            result = await self._embed_many(texts)
            vectors = dict(zip(texts, result.vectors, strict=True))
        except Exception as exc:
            if meter is not None:
                await meter.failed(tickets, permit)
            for waiting in batch:
                if not waiting.future.done():
                    waiting.future.set_exception(exc)
                    waiting.future.exception()  # retrieved here: a waiter that gave up must not log it as lost
            return
        for waiting in batch:
            if not waiting.future.done():
                waiting.future.set_result(vectors[waiting.text])
        if meter is not None and permit is not None:
            await meter.settle(tickets, result.prompt_tokens, permit)


class QuestionEmbeddings:
    """Unit vectors for questions: LRU cache first (free), then the batcher (reserved on the asker's budget)."""

    def __init__(self, batcher: EmbeddingBatcher, *, cache_size: int, meter: EmbeddingMeter | None = None) -> None:
        self._batcher = batcher
        self._cache: OrderedDict[str, list[float]] = OrderedDict()
        self._cache_size = cache_size
        self._meter = meter

    async def vector(self, question: str, client_id: str = "") -> list[float]:
        key = " ".join(question.split())
        cached = self._cache.get(key)
        if cached is not None:
            self._cache.move_to_end(key)
            return cached
        ticket = await self._meter.reserve(client_id, key) if self._meter is not None else None
        vector = normalized(await self._batcher.embed(key, ticket))
        self._cache[key] = vector
        if len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
        return vector
