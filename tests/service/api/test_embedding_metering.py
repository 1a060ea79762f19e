"""Embedding costs shared out in proportion, in process (the gunicorn tests are in tests/service/answers)."""

from __future__ import annotations

import asyncio

from hypothesis import given
from hypothesis import strategies as st

from service.answers.embeddings import EmbeddingBatcher, QuestionEmbeddings
from service.api.embedding_metering import Embedded, split_in_proportion
from service.api.metering import Metering
from service.settings import SERVICE_CLIENT_ID, Settings


@given(total=st.integers(0, 10**6), weights=st.lists(st.integers(0, 10**4), min_size=1, max_size=50))
def test_shares_add_up_to_the_total_and_follow_the_weights(total: int, weights: list[int]) -> None:
    shares = split_in_proportion(total, weights)
    assert sum(shares) == total
    if sum(weights):
        for share, weight in zip(shares, weights, strict=True):
            assert abs(share - total * weight / sum(weights)) < 1


def test_a_batch_is_charged_to_its_clients_and_indexing_to_the_service() -> None:
    async def main() -> None:
        metering = Metering.build(Settings(_env_file=None))  # type: ignore[call-arg]
        meter = metering.embeddings("text-embedding-3-small")

        async def embed_call(texts: list[str]) -> Embedded:
            return Embedded([[1.0, 0.0] for _ in texts], 100)  # OpenAI bills 100 tokens for the batch

        batcher = EmbeddingBatcher(embed_call, max_batch=8, max_wait_seconds=0.05, meter=meter)
        questions = QuestionEmbeddings(batcher, cache_size=8, meter=meter)
        await asyncio.gather(
            questions.vector("one two three", "acme"),  # 3 tokens
            questions.vector("one two three four five six seven eight nine", "globex"),  # 9 tokens
        )
        assert batcher.requests == 1
        await meter.embed_for_service(embed_call, ["a chunk of the knowledge base"])
        acme, globex, service = [
            (await metering.usage.report(client))["day"] for client in ("acme", "globex", SERVICE_CLIENT_ID)
        ]
        assert (acme["prompt_tokens"], globex["prompt_tokens"], service["prompt_tokens"]) == (25, 75, 100)
        assert (acme["requests"], service["requests"]) == (0, 1)  # a share of a batch is not a request
        assert acme["spend_usd"] > 0
        await metering.aclose()

    asyncio.run(main())
