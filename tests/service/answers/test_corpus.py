from __future__ import annotations

from pathlib import Path

import pytest

from service.answers.corpus import MAX_CHUNK_WORDS, CorpusError, chunk_document, load_corpus
from tests.service.answers.conftest import write_corpus


def test_documents_are_chunked_by_section_with_stable_ids(tmp_path: Path) -> None:
    chunks = load_corpus(write_corpus(tmp_path))
    assert [c.id for c in chunks] == ["ferries#1", "library#1", "parking#1", "parking#2"]
    residents, visitors = chunks[2], chunks[3]
    assert (residents.section, visitors.section) == ("Residents", "Visitors")
    assert residents.title == "Parking rules"
    assert visitors.embedding_input == "Parking rules. Visitors. " + visitors.text


def test_paragraphs_are_packed_up_to_the_word_limit_and_never_split() -> None:
    paragraph = " ".join(["word"] * (MAX_CHUNK_WORDS // 2 + 1))
    long_paragraph = " ".join(["long"] * (MAX_CHUNK_WORDS + 5))
    text = f"# T\n\n{paragraph}\n\n{paragraph}\n\nshort one\n\n{long_paragraph}\n"
    chunks = chunk_document("doc", text)
    assert [len(c.text.split()) for c in chunks] == [
        MAX_CHUNK_WORDS // 2 + 1,
        MAX_CHUNK_WORDS // 2 + 3,
        MAX_CHUNK_WORDS + 5,
    ]


def test_chunk_text_is_one_line_for_the_prompt() -> None:
    (chunk,) = chunk_document("doc", "# T\n\nfirst line\nsecond   line\n")
    assert chunk.text == "first line second line"


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("doc", "no title\n\ntext", "first line must be the title"),
        ("doc", "# Only a title\n", "no text"),
        ("Bad_Name", "# T\n\ntext", "lower-case letters"),
    ],
)
def test_corpus_errors_name_the_file_and_the_fix(tmp_path: Path, name: str, text: str, message: str) -> None:
    (tmp_path / f"{name}.md").write_text(text)
    with pytest.raises(CorpusError, match=message):
        load_corpus(tmp_path)


def test_the_bundled_knowledge_base_loads() -> None:
    chunks = load_corpus()
    documents = {c.document_id for c in chunks}
    assert len(documents) >= 30
    assert len({c.id for c in chunks}) == len(chunks)
