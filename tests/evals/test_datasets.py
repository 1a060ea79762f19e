"""The shipped datasets are what the guide asks for, and agree with the shipped knowledge base."""

from __future__ import annotations

from collections import Counter

from evals import datasets
from service.answers.corpus import load_corpus


def test_the_qa_dataset_is_large_varied_and_points_at_real_documents() -> None:
    examples = datasets.load("qa")
    documents = {chunk.document_id for chunk in load_corpus()}
    assert len(examples) >= 80
    assert all(e.answer for e in examples), "every question has a reference answer"
    assert all(set(e.documents) <= documents for e in examples), "unknown document id in qa.jsonl"
    assert sum(1 for e in examples if not e.documents) >= 10, "questions whose answer is not in the corpus"
    assert len(Counter(e.style for e in examples)) >= 4
    assert set(Counter(e.difficulty for e in examples)) == {"easy", "medium", "hard"}
    assert len(documents - {d for e in examples for d in e.documents}) == 0, "every document is asked about"


def test_the_classification_example_has_both_classes() -> None:
    labels = Counter(e.expected_label for e in datasets.load("answerable"))
    assert labels[datasets.ANSWERABLE] >= 5
    assert labels[datasets.NOT_IN_KB] >= 5
