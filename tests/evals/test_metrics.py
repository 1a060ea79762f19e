"""The metrics on fixed rankings and labels whose values are worked out by hand."""

from __future__ import annotations

import pytest

from evals import metrics
from evals.runner import parse_verdict

RANKINGS = [
    (["a", "b", "c"], {"a"}),  # rank 1: RR 1
    (["b", "a", "c"], {"a"}),  # rank 2: RR 1/2
    (["b", "c", "a"], {"a", "z"}),  # rank 3: RR 1/3
    (["b", "c", "d"], {"a"}),  # absent: RR 0
]


def test_accuracy_at_k_counts_any_relevant_document_in_the_top_k() -> None:
    assert [metrics.accuracy_at_k(r, rel, 1) for r, rel in RANKINGS] == [1, 0, 0, 0]
    assert [metrics.accuracy_at_k(r, rel, 2) for r, rel in RANKINGS] == [1, 1, 0, 0]
    assert [metrics.accuracy_at_k(r, rel, 3) for r, rel in RANKINGS] == [1, 1, 1, 0]


def test_mean_reciprocal_rank_follows_the_guide() -> None:
    assert [metrics.reciprocal_rank(r, rel) for r, rel in RANKINGS] == [1, 0.5, pytest.approx(1 / 3), 0]
    assert metrics.mean_reciprocal_rank(RANKINGS) == pytest.approx((1 + 1 / 2 + 1 / 3 + 0) / 4)
    assert metrics.mean_reciprocal_rank([]) == 0.0


def test_classification_metrics_for_the_positive_class() -> None:
    labels = ["yes", "yes", "yes", "no", "no", "no", "no", "no"]
    predicted = ["yes", "yes", "no", "yes", "no", "no", "no", "no"]
    c = metrics.classification(labels, predicted, positive="yes")
    assert (c.accuracy, c.precision, c.recall, c.support) == (0.75, pytest.approx(2 / 3), pytest.approx(2 / 3), 3)
    assert c.f1 == pytest.approx(2 / 3)
    nothing = metrics.classification(["no", "no"], ["no", "no"], positive="yes")
    assert (nothing.precision, nothing.recall, nothing.f1, nothing.accuracy) == (0, 0, 0, 1)


def test_cosine_similarity_and_percentiles() -> None:
    assert metrics.cosine_similarity([1, 0], [1, 0]) == 1
    assert metrics.cosine_similarity([1, 0], [0, 2]) == 0
    assert metrics.cosine_similarity([1, 1], [1, 0]) == pytest.approx(2**-0.5)
    values = [float(v) for v in range(1, 101)]
    assert metrics.percentile(values, 50) == pytest.approx(50.5)
    assert metrics.percentile(values, 90) == pytest.approx(90.1)
    assert metrics.percentile([], 50) == 0


@pytest.mark.parametrize(("text", "verdict"), [("CORRECT", True), ("Incorrect.", False), ("maybe", None), ("", None)])
def test_judge_verdicts_are_parsed_strictly(text: str, verdict: bool | None) -> None:
    assert parse_verdict(text) is verdict
