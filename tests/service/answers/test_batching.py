"""Concurrent question embeddings are coalesced into one upstream request (counted by the stub)."""

from __future__ import annotations

import asyncio

import pytest

from service.answers.embeddings import EmbeddingBatcher, QuestionEmbeddings, upstream_embedder
from service.api.embedding_metering import Embedded
from service.settings import Settings
from service.stub.testing import StubServer
from service.stub.vectors import embed
from service.upstream.client import Upstream, build_client
from service.upstream.keys import OpenAIKeySource
from tests.conftest import UPSTREAM_KEY

EMBEDDINGS = "/v1/embeddings"


def _upstream(stub: StubServer) -> Upstream:
    settings = Settings(openai_base_url=stub.base_url, openai_api_key=UPSTREAM_KEY)  # type: ignore[call-arg]
    keys = OpenAIKeySource(UPSTREAM_KEY)
    return Upstream(build_client(settings, keys), keys, settings)


def test_concurrent_questions_make_one_embeddings_call(stub: StubServer) -> None:
    async def main() -> list[list[float]]:
        upstream = _upstream(stub)
        batcher = EmbeddingBatcher(
            upstream_embedder(upstream, "text-embedding-3-small", None), max_batch=64, max_wait_seconds=0.05
        )
        try:
            return await asyncio.gather(*(batcher.embed(f"question number {i}") for i in range(20)))
        finally:
            await upstream.client.close()

    vectors = asyncio.run(main())
    assert stub.requests_to(EMBEDDINGS) == 1
    for i, vector in enumerate(vectors):  # each waiter gets its own text's vector back
        assert vector == pytest.approx(embed(f"question number {i}"), abs=1e-6)


def test_batches_close_at_their_size_and_duplicates_are_embedded_once() -> None:
    batches: list[list[str]] = []

    async def embed_many(texts: list[str]) -> Embedded:
        batches.append(texts)
        return Embedded([[float(len(text)), 1.0] for text in texts], len(texts))

    async def main() -> None:
        batcher = EmbeddingBatcher(embed_many, max_batch=4, max_wait_seconds=0.05)
        await asyncio.gather(*(batcher.embed(text) for text in ["a", "bb", "a", "ccc", "dddd", "e"]))

    asyncio.run(main())
    assert batches == [["a", "bb", "ccc"], ["dddd", "e"]]


def test_a_failed_batch_fails_each_waiter_and_the_next_one_works() -> None:
    calls = 0

    async def embed_many(texts: list[str]) -> Embedded:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("upstream down")
        return Embedded([[1.0, 0.0] for _ in texts], len(texts))

    async def main() -> None:
        batcher = EmbeddingBatcher(embed_many, max_batch=8, max_wait_seconds=0.01)
        results = await asyncio.gather(batcher.embed("x"), batcher.embed("y"), return_exceptions=True)
        assert all(isinstance(r, RuntimeError) for r in results)
        assert await batcher.embed("z") == [1.0, 0.0]

    asyncio.run(main())


def test_repeated_questions_come_from_the_cache() -> None:
    calls = 0

    async def embed_many(texts: list[str]) -> Embedded:
        nonlocal calls
        calls += 1
        return Embedded([[3.0, 4.0] for _ in texts], len(texts))

    async def main() -> None:
        questions = QuestionEmbeddings(EmbeddingBatcher(embed_many, max_batch=8, max_wait_seconds=0), cache_size=2)
        assert await questions.vector("same  question") == pytest.approx([0.6, 0.8])
        assert await questions.vector("same question") == pytest.approx([0.6, 0.8])  # whitespace does not count

    asyncio.run(main())
    assert calls == 1
