"""The knowledge base: markdown documents, and the rule that cuts them into chunks.

A document is `<knowledge dir>/<id>.md`; its id is the file name (stable: evaluation datasets and
citations refer to it) and its first line is `# Title`. The chunking rule (version `CHUNKING_RULE`):

1. `## ` headings split a document into sections; text before the first heading is a section too.
2. Within a section, paragraphs (separated by blank lines) are packed greedily, in order, into chunks
   of at most `MAX_CHUNK_WORDS` words. A paragraph is never split: a longer one is a chunk of its own.
3. A chunk's text is its paragraphs with every run of whitespace collapsed to one space, so it fits
   on one `[id] text` line of the prompt. Chunk ids are `<document id>#<n>`, n counting from 1.
4. What is embedded is `title. section. text`: the title and heading say what a chunk is about even
   when its own words do not.

Change any of this and bump `CHUNKING_RULE`: the index version changes with it and everything is
re-embedded (and the answer cache moves to a new namespace).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Final

CHUNKING_RULE: Final = "sections-paragraphs-120w/v1"
MAX_CHUNK_WORDS: Final = 120
DEFAULT_KNOWLEDGE_DIR: Final = Path(__file__).resolve().parent.parent / "knowledge"

_ID_RE: Final = re.compile(r"^[a-z0-9][a-z0-9-]*$")
_WS_RE: Final = re.compile(r"\s+")


class CorpusError(ValueError):
    """A document that breaks the corpus rules; the message names the file and the fix."""


@dataclass(frozen=True, slots=True)
class Chunk:
    id: str
    document_id: str
    title: str
    section: str
    text: str

    @property
    def embedding_input(self) -> str:
        parts = [self.title, self.section, self.text] if self.section else [self.title, self.text]
        return ". ".join(parts)


def _flat(text: str) -> str:
    return _WS_RE.sub(" ", text).strip()


def _sections(body: str) -> list[tuple[str, list[str]]]:
    sections: list[tuple[str, list[str]]] = [("", [])]
    paragraph: list[str] = []

    def end_paragraph() -> None:
        if paragraph:
            sections[-1][1].append(_flat(" ".join(paragraph)))
            paragraph.clear()

    for line in body.splitlines():
        if line.startswith("## "):
            end_paragraph()
            sections.append((_flat(line[3:]), []))
        elif not line.strip():
            end_paragraph()
        else:
            paragraph.append(line)
    end_paragraph()
    return [(heading, paragraphs) for heading, paragraphs in sections if paragraphs]


def chunk_document(document_id: str, markdown: str) -> list[Chunk]:
    first, _, body = markdown.partition("\n")
    if not first.startswith("# "):
        raise CorpusError(f"{document_id}.md: the first line must be the title, as `# Title`")
    title = _flat(first[2:])
    chunks: list[Chunk] = []
    for heading, paragraphs in _sections(body):
        packed: list[str] = []
        words = 0
        for paragraph in paragraphs:
            size = len(paragraph.split())
            if packed and words + size > MAX_CHUNK_WORDS:
                chunks.append(Chunk(f"{document_id}#{len(chunks) + 1}", document_id, title, heading, " ".join(packed)))
                packed, words = [], 0
            packed.append(paragraph)
            words += size
        if packed:
            chunks.append(Chunk(f"{document_id}#{len(chunks) + 1}", document_id, title, heading, " ".join(packed)))
    if not chunks:
        raise CorpusError(f"{document_id}.md has a title but no text")
    return chunks


def load_corpus(directory: Path = DEFAULT_KNOWLEDGE_DIR) -> list[Chunk]:
    """Every chunk of every `*.md` document in `directory`, in file-name order (so ids and hashes are stable)."""
    paths = sorted(directory.glob("*.md"))
    if not paths:
        raise CorpusError(f"no *.md documents in {directory}; set ANSWERS_KNOWLEDGE_DIR to the knowledge base")
    chunks: list[Chunk] = []
    for path in paths:
        if not _ID_RE.match(path.stem):
            raise CorpusError(f"{path.name}: document ids are lower-case letters, digits and hyphens; rename it")
        chunks.extend(chunk_document(path.stem, path.read_text(encoding="utf-8")))
    return chunks


def document_titles(chunks: list[Chunk]) -> dict[str, str]:
    return {chunk.document_id: chunk.title for chunk in chunks}
