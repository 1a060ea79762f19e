"""A hand-made knowledge base with known answers, and embeddings made the stub's way, in process."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from service.answers.corpus import Chunk, load_corpus
from service.answers.index import Index, index_version, normalized, probe_of
from service.stub.vectors import embed

DOCUMENTS = {
    "ferries": "# Ferry timetable\n\nThe ferry to the island leaves the harbour every hour from 7am.\n\n"
    "Tickets for the ferry cost 4 euros for adults and 2 euros for children.\n",
    "library": "# City library\n\nThe library opens at 9am and closes at 6pm on weekdays.\n\n"
    "Borrowed books must be returned within three weeks.\n",
    "parking": "# Parking rules\n\n## Residents\n\nResidents park free with a permit from the town hall.\n\n"
    "## Visitors\n\nVisitors pay 1 euro per hour at the meters near the market.\n",
}


def write_corpus(directory: Path, documents: dict[str, str] = DOCUMENTS) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for name, text in documents.items():
        (directory / f"{name}.md").write_text(text)
    return directory


@pytest.fixture
def corpus(tmp_path: Path) -> list[Chunk]:
    return load_corpus(write_corpus(tmp_path / "knowledge"))


def stub_index(chunks: list[Chunk]) -> Index:
    vectors = tuple(normalized(embed(chunk.embedding_input)) for chunk in chunks)
    return Index(index_version(chunks, "m", None), "m", tuple(chunks), vectors, probe_of(embed("probe")))


async def fake_embed_many(texts: list[str]) -> list[list[float]]:
    return [embed(text) for text in texts]


EmbedCounter = Callable[[list[str]], object]
