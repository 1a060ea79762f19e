"""The retrieval Q&A feature's per-process objects, built once in the app's lifespan.

The index is loaded or built in the background at start, so a slow or failing embeddings call never
stops the service from starting (chat completions do not need it); `/v1/answers` waits for it, bounded,
and a failed build is retried by the next request that needs it.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

import structlog

from service.answers.corpus import Chunk, load_corpus
from service.answers.embeddings import EmbeddingBatcher, QuestionEmbeddings, upstream_embedder
from service.answers.index import EmbedMany, Index, IndexStore, ensure_index
from service.answers.retrieval import Hit, rank
from service.api.embedding_metering import EmbeddingMeter
from service.errors import ServiceUnavailable
from service.settings import Settings
from service.state import Store
from service.upstream.client import Upstream

log = structlog.get_logger(__name__)

_RETRY_AFTER_SECONDS = 5


@dataclass
class AnswerEngine:
    settings: Settings
    chunks: list[Chunk]
    store: IndexStore
    embed_many: EmbedMany
    questions: QuestionEmbeddings
    _index: Index | None = None
    _building: asyncio.Task[Index] | None = None
    _last_error: str = ""
    index_source: str = ""
    _started: float = field(default_factory=time.monotonic)

    @classmethod
    def build(
        cls, settings: Settings, upstream: Upstream, state: Store | None, meter: EmbeddingMeter | None = None
    ) -> AnswerEngine:
        """With `meter`, every embeddings call is on the books: questions their clients', indexing the service's."""
        chunks = load_corpus(settings.answers_knowledge_dir) if settings.answers_knowledge_dir else load_corpus()
        embed_call = upstream_embedder(upstream, settings.embedding_model, settings.embedding_dimensions)
        batcher = EmbeddingBatcher(
            embed_call,
            max_batch=settings.answers_embed_batch_size,
            max_wait_seconds=settings.answers_embed_batch_wait_ms / 1000,
            meter=meter,
        )

        async def embed_for_index(texts: list[str]) -> list[list[float]]:
            if meter is not None:
                return await meter.embed_for_service(embed_call, texts)
            return (await embed_call(texts)).vectors

        return cls(
            settings=settings,
            chunks=chunks,
            store=IndexStore(settings.answers_index_dir, state),
            embed_many=embed_for_index,
            questions=QuestionEmbeddings(batcher, cache_size=settings.answers_question_cache_size, meter=meter),
        )

    def start(self) -> None:
        """Begin loading (or building) the index without waiting for it."""
        if self._index is None and (self._building is None or self._building.done()):
            self._building = asyncio.get_running_loop().create_task(self._load())

    async def _load(self) -> Index:
        s = self.settings
        try:
            index, source = await ensure_index(
                self.chunks,
                model=s.embedding_model,
                dimensions=s.embedding_dimensions,
                store=self.store,
                embed_many=self.embed_many,
                batch_size=s.answers_index_batch_size,
            )
        except Exception as exc:
            self._last_error = f"{type(exc).__name__}: {exc}"
            log.warning("answers_index_unavailable", error=self._last_error)
            raise
        self._index, self.index_source = index, source
        log.info("answers_index_ready", version=index.version, chunks=len(index.chunks), source=source)
        return index

    async def index(self) -> Index:
        if self._index is not None:
            return self._index
        self.start()
        assert self._building is not None  # noqa: S101 - start() just set it
        try:
            return await asyncio.wait_for(asyncio.shield(self._building), self.settings.answers_index_wait_seconds)
        except Exception:
            raise ServiceUnavailable(
                "The knowledge base index is not ready yet; retry after the time in Retry-After",
                code="index_not_ready",
                headers={"Retry-After": str(_RETRY_AFTER_SECONDS)},
            ) from None

    async def search(self, question: str, top_k: int, client_id: str = "") -> tuple[Index, list[Hit]]:
        index = await self.index()
        vector = await self.questions.vector(question, client_id)
        return index, rank(index, vector, top_k, self.settings.answers_min_similarity)

    async def readiness(self) -> tuple[bool, str]:
        """Ready either way: without the index only /v1/answers is unavailable, chat is not."""
        if self._index is not None:
            return True, f"ok (version {self._index.version}, {len(self._index.chunks)} chunks, {self.index_source})"
        if self._last_error:  # the error itself is in the log (answers_index_unavailable), not on /readyz
            return True, "degraded: index not built; retried on the next question"
        return True, "building the index"

    async def aclose(self) -> None:
        if self._building is not None and not self._building.done():
            self._building.cancel()
