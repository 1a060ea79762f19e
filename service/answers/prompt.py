"""Step 2, answer: the prompt that asks for an answer grounded in the retrieved chunks.

The format is the one the stub upstream reads (service/stub/text.py), so both steps are meaningful
offline: each chunk is one `[chunk-id] text` line under `Context:`, and the question follows on a
`Question:` line. The system prompt fixes the exact sentence for "not in the knowledge base", so the
service can tell a grounded answer from a refusal without a second model call.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, Final

from service.answers.retrieval import Hit

NOT_FOUND: Final = "I don't know: the knowledge base does not cover this."

SYSTEM_PROMPT: Final = (
    "You answer questions about a product using only its knowledge base. "
    "The user message holds numbered excerpts from it (each line starts with the excerpt's id in square "
    "brackets) and then the question. Answer in one to three sentences, using only facts stated in the "
    "excerpts, and cite the ids of the excerpts you used in square brackets at the end. "
    "If the excerpts do not contain the answer, reply with exactly this sentence and nothing else: "
    f"{NOT_FOUND}"
)

_CITED_RE: Final = re.compile(r"\[([a-z0-9][a-z0-9-]*#\d+)\]")


def build_messages(question: str, hits: Sequence[Hit], index_version: str) -> list[dict[str, Any]]:
    """The chat messages for one question. The index version is part of the prompt, so the response
    cache (keyed on the request) never serves an answer built from an older knowledge base."""
    context = "\n".join(f"[{hit.chunk.id}] {hit.chunk.text}" for hit in hits)
    return [
        {"role": "system", "content": f"{SYSTEM_PROMPT}\nKnowledge base version: {index_version}."},
        {"role": "user", "content": f"Context:\n{context}\n\nQuestion: {' '.join(question.split())}"},
    ]


def is_not_found(answer: str) -> bool:
    return answer.strip().rstrip(".").lower() == NOT_FOUND.rstrip(".").lower()


def cited_hits(answer: str, hits: Sequence[Hit]) -> list[Hit]:
    """The chunks the answer cites: the ids it names in brackets; failing that, the chunks it quotes;
    failing that, every chunk it was given. None when it says the knowledge base does not cover it."""
    if is_not_found(answer):
        return []
    named = set(_CITED_RE.findall(answer))
    if named:
        return [hit for hit in hits if hit.chunk.id in named]
    plain = " ".join(_CITED_RE.sub("", answer).split()).strip()
    quoted = [hit for hit in hits if plain and plain in hit.chunk.text]
    return quoted or list(hits)
