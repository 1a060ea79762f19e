from __future__ import annotations

import pytest

from service.answers.corpus import Chunk
from service.answers.index import normalized
from service.answers.prompt import NOT_FOUND, build_messages, cited_hits
from service.answers.retrieval import Hit, rank
from service.stub.text import chat_reply
from service.stub.vectors import embed
from tests.service.answers.conftest import stub_index


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("How much is a ferry ticket for children?", "ferries#1"),
        ("When does the library close?", "library#1"),
        ("Where do visitors pay for parking?", "parking#2"),
        ("Do residents need a permit to park?", "parking#1"),
    ],
)
def test_the_chunk_that_answers_ranks_first(corpus: list[Chunk], question: str, expected: str) -> None:
    hits = rank(stub_index(corpus), normalized(embed(question)), top_k=3)
    assert hits[0].chunk.id == expected
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    assert len(hits) == 3


def test_min_score_leaves_out_unrelated_chunks(corpus: list[Chunk]) -> None:
    index = stub_index(corpus)
    assert rank(index, normalized(embed("library books")), top_k=4, min_score=0.2)[0].chunk.id == "library#1"
    assert rank(index, normalized(embed("volcano eruption")), top_k=4, min_score=0.2) == []


def test_the_prompt_is_answered_from_its_context_by_the_stub(corpus: list[Chunk]) -> None:
    index = stub_index(corpus)
    hits = rank(index, normalized(embed("How often does the ferry leave?")), top_k=2)
    messages = build_messages("How often does the ferry leave?", hits, index.version)
    assert index.version in messages[0]["content"]
    reply = chat_reply(messages)
    assert reply == "The ferry to the island leaves the harbour every hour from 7am."
    assert [h.chunk.id for h in cited_hits(reply, hits)] == ["ferries#1"]


def test_a_question_the_context_does_not_cover_gets_the_not_found_answer(corpus: list[Chunk]) -> None:
    index = stub_index(corpus)
    hits = rank(index, normalized(embed("Who painted the Mona Lisa?")), top_k=2)
    reply = chat_reply(build_messages("Who painted the Mona Lisa?", hits, index.version))
    assert reply == NOT_FOUND
    assert cited_hits(reply, hits) == []


def test_citations_prefer_ids_the_model_names(corpus: list[Chunk]) -> None:
    hits = [Hit(chunk, 0.5) for chunk in corpus]
    assert [h.chunk.id for h in cited_hits("Park free with a permit [parking#1].", hits)] == ["parking#1"]
    assert cited_hits("Something unquoted.", hits) == hits  # nothing to go on: every chunk given
