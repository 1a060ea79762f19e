"""Step 1, search: rank the knowledge base's chunks by cosine similarity to the question.

Vectors are unit length, so cosine similarity is a dot product. Pure Python is fast enough for a
corpus of a few hundred chunks (about a millisecond per hundred 256-dimension chunks); a larger
knowledge base belongs in a vector store, behind the same `rank` signature.
"""

from __future__ import annotations

import heapq
import operator
from collections.abc import Sequence
from dataclasses import dataclass

from service.answers.corpus import Chunk
from service.answers.index import Index


@dataclass(frozen=True, slots=True)
class Hit:
    chunk: Chunk
    score: float

    def as_json(self) -> dict[str, object]:
        return {
            "id": self.chunk.id,
            "document_id": self.chunk.document_id,
            "title": self.chunk.title,
            "score": round(self.score, 4),
        }


def cosine(a: Sequence[float], b: Sequence[float]) -> float:
    """For unit vectors."""
    return float(sum(map(operator.mul, a, b)))


def rank(index: Index, question: Sequence[float], top_k: int, min_score: float | None = None) -> list[Hit]:
    """The `top_k` best chunks, best first (ties keep corpus order); below `min_score` is left out."""
    scored = ((cosine(vector, question), -position) for position, vector in enumerate(index.vectors))
    best = heapq.nlargest(top_k, scored)
    hits = [Hit(index.chunks[-position], score) for score, position in best]
    return [hit for hit in hits if min_score is None or hit.score >= min_score]
