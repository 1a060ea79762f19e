"""The metrics the guide names, as plain functions over plain values (so they are easy to check by hand).

Search: binary accuracy@k (1 if any relevant document is in the top k) and mean reciprocal rank
(1 for a relevant document first, 1/2 second, ..., 0 when none is ranked). Answers: cosine similarity
of embeddings. Classification: accuracy, and precision, recall and F1 for a positive class.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Sequence
from dataclasses import dataclass


def accuracy_at_k(ranked: Sequence[str], relevant: Collection[str], k: int) -> float:
    return 1.0 if any(doc in relevant for doc in ranked[:k]) else 0.0


def reciprocal_rank(ranked: Sequence[str], relevant: Collection[str]) -> float:
    for position, doc in enumerate(ranked, start=1):
        if doc in relevant:
            return 1.0 / position
    return 0.0


def mean(values: Sequence[float]) -> float:
    return sum(values) / len(values) if values else 0.0


def mean_reciprocal_rank(rankings: Sequence[tuple[Sequence[str], Collection[str]]]) -> float:
    return mean([reciprocal_rank(ranked, relevant) for ranked, relevant in rankings])


def cosine_similarity(a: Sequence[float], b: Sequence[float]) -> float:
    dot = sum(x * y for x, y in zip(a, b, strict=True))
    norms = math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b))
    return dot / norms if norms else 0.0


def percentile(values: Sequence[float], p: float) -> float:
    """Linear interpolation between closest ranks (numpy's default)."""
    if not values:
        return 0.0
    ordered = sorted(values)
    position = (len(ordered) - 1) * p / 100
    low, high = math.floor(position), math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


@dataclass(frozen=True)
class Classification:
    accuracy: float
    precision: float
    recall: float
    f1: float
    support: int  # how many examples are truly positive


def classification(labels: Sequence[str], predictions: Sequence[str], positive: str) -> Classification:
    """Accuracy over all examples; precision, recall and F1 for `positive` (0 when undefined)."""
    if len(labels) != len(predictions):
        raise ValueError("labels and predictions must have the same length")
    pairs = list(zip(labels, predictions, strict=True))
    true_positive = sum(1 for label, predicted in pairs if label == predicted == positive)
    predicted_positive = sum(1 for _, predicted in pairs if predicted == positive)
    actual_positive = sum(1 for label, _ in pairs if label == positive)
    precision = true_positive / predicted_positive if predicted_positive else 0.0
    recall = true_positive / actual_positive if actual_positive else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    accuracy = sum(1 for label, predicted in pairs if label == predicted) / len(pairs) if pairs else 0.0
    return Classification(accuracy, precision, recall, f1, actual_positive)
