"""Evaluation datasets: JSONL files in evals/datasets, one example per line.

Q&A (`qa.jsonl`): `{"id", "question", "documents": [document ids that answer it; empty when the
knowledge base does not], "answer": "reference answer, written by hand", "style", "difficulty"}`.
Classification (`answerable.jsonl`): `{"id", "question", "label": "answerable" | "not_in_kb"}`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Final

import orjson

DATASETS_DIR: Final = Path(__file__).resolve().parent / "datasets"
ANSWERABLE: Final = "answerable"
NOT_IN_KB: Final = "not_in_kb"


@dataclass(frozen=True)
class Example:
    id: str
    question: str
    documents: tuple[str, ...] = ()
    answer: str | None = None  # the reference answer (Q&A datasets)
    label: str | None = None  # the expected class (classification datasets)
    style: str = ""
    difficulty: str = ""

    @property
    def expected_label(self) -> str:
        if self.label is not None:
            return self.label
        return ANSWERABLE if self.documents else NOT_IN_KB


def resolve(name_or_path: str) -> Path:
    path = Path(name_or_path)
    if path.suffix == ".jsonl" or path.exists():
        return path
    return DATASETS_DIR / f"{name_or_path}.jsonl"


def load(name_or_path: str) -> list[Example]:
    path = resolve(name_or_path)
    examples: list[Example] = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = orjson.loads(line)
            examples.append(
                Example(
                    id=str(row["id"]),
                    question=str(row["question"]),
                    documents=tuple(row.get("documents") or ()),
                    answer=row.get("answer"),
                    label=row.get("label"),
                    style=row.get("style", ""),
                    difficulty=row.get("difficulty", ""),
                )
            )
        except (orjson.JSONDecodeError, KeyError, TypeError) as exc:
            raise ValueError(
                f"{path}:{number}: not a dataset row ({exc}); see evals/datasets.py for the format"
            ) from None
    if len({e.id for e in examples}) != len(examples):
        raise ValueError(f"{path}: example ids must be unique")
    return examples
