"""Index versions, storage and re-indexing; the answer cache moving with the index version."""

from __future__ import annotations

import asyncio
from pathlib import Path

from service.answers.corpus import load_corpus
from service.answers.index import IndexStore, ensure_index, index_version
from service.answers.prompt import build_messages
from service.answers.retrieval import Hit
from service.cache import request_digest
from service.state import MemoryStore
from service.stub.vectors import embed
from tests.service.answers.conftest import DOCUMENTS, write_corpus


class CountingEmbedder:
    def __init__(self, dimensions: int = 256) -> None:
        self.calls: list[int] = []
        self.dimensions = dimensions

    async def __call__(self, texts: list[str]) -> list[list[float]]:
        self.calls.append(len(texts))
        await asyncio.sleep(0.01)  # a real call yields to other tasks: let concurrent builders interleave
        return [embed(text, self.dimensions) for text in texts]


def _ensure(knowledge: Path, store: IndexStore, embedder: CountingEmbedder, model: str = "m", batch_size: int = 2):  # type: ignore[no-untyped-def]
    chunks = load_corpus(knowledge)
    return asyncio.run(
        ensure_index(chunks, model=model, dimensions=None, store=store, embed_many=embedder, batch_size=batch_size)
    )


def test_the_corpus_is_embedded_in_batches_once_then_loaded(tmp_path: Path) -> None:
    knowledge = write_corpus(tmp_path / "kb")
    store = IndexStore(tmp_path / "index", None)
    embedder = CountingEmbedder()
    index, source = _ensure(knowledge, store, embedder)
    assert source == "embedded"
    assert embedder.calls == [1, 2, 2]  # the probe, then 4 chunks in batches of 2
    again, source = _ensure(knowledge, store, embedder)
    assert (source, again.version, again.vectors) == ("file", index.version, index.vectors)
    assert embedder.calls[3:] == [1]  # only the probe


def test_a_changed_document_or_model_is_reindexed_under_a_new_version(tmp_path: Path) -> None:
    knowledge = write_corpus(tmp_path / "kb")
    store = IndexStore(tmp_path / "index", None)
    first, _ = _ensure(knowledge, store, CountingEmbedder())
    (knowledge / "library.md").write_text(DOCUMENTS["library"].replace("6pm", "8pm"))
    second, source = _ensure(knowledge, store, CountingEmbedder())
    assert source == "embedded"
    assert second.version != first.version
    third, source = _ensure(knowledge, store, CountingEmbedder(), model="other-model")
    assert source == "embedded"
    assert len({first.version, second.version, third.version}) == 3


def test_vectors_from_another_embedder_are_not_reused(tmp_path: Path) -> None:
    knowledge = write_corpus(tmp_path / "kb")
    store = IndexStore(tmp_path / "index", None)
    _ensure(knowledge, store, CountingEmbedder(dimensions=256))
    index, source = _ensure(knowledge, store, CountingEmbedder(dimensions=64))  # e.g. the stub, then OpenAI
    assert source == "embedded"
    assert len(index.vectors[0]) == 64


def test_the_shared_state_copy_serves_a_process_without_the_file(tmp_path: Path) -> None:
    knowledge = write_corpus(tmp_path / "kb")
    state = MemoryStore()
    built, _ = _ensure(knowledge, IndexStore(tmp_path / "a", state), CountingEmbedder())
    embedder = CountingEmbedder()
    loaded, source = _ensure(knowledge, IndexStore(tmp_path / "b", state), embedder)
    assert (source, loaded.vectors) == ("state", built.vectors)
    assert embedder.calls == [1]
    assert (tmp_path / "b" / f"index-{built.version}.bin").exists()


def test_the_answer_cache_key_moves_with_the_index_version(tmp_path: Path) -> None:
    chunks = load_corpus(write_corpus(tmp_path / "kb"))
    hits = [Hit(chunks[0], 0.9)]
    old, new = index_version(chunks, "m", None), index_version(chunks, "m2", None)

    def key(version: str) -> str:
        body = {"model": "gpt-4o-mini", "temperature": 0, "messages": build_messages("q?", hits, version)}
        return request_digest(body, "client")

    assert key(old) == key(old)
    assert key(old) != key(new)  # same question, same chunks: a new index never serves the old answer


def test_two_workers_starting_together_embed_the_corpus_once(tmp_path: Path) -> None:
    knowledge = write_corpus(tmp_path / "kb")
    embedder = CountingEmbedder()

    async def main() -> list[str]:
        chunks = load_corpus(knowledge)

        async def worker() -> str:  # no Redis: each worker has its own memory state, and they share the file lock
            store = IndexStore(tmp_path / "index", MemoryStore())
            _, source = await ensure_index(
                chunks, model="m", dimensions=None, store=store, embed_many=embedder, batch_size=2
            )
            return source

        return list(await asyncio.gather(worker(), worker()))

    assert sorted(asyncio.run(main())) == ["embedded", "file"]
    assert sum(calls for calls in embedder.calls if calls > 1) == 4  # the 4 chunks, once
