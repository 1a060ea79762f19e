"""The JSON result, the Markdown report, the model comparison table and the baseline check."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

DEFAULT_TOLERANCE = 0.02

_SECTIONS = (
    ("Search (step 1): is a relevant document in the top k?", "search."),
    ("Answers (step 2): how close to the reference answer?", "answer."),
    ('Saying "not in the knowledge base" (positive class: not in the knowledge base)', "not_found."),
)


def _table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_cell(v) for v in row) + " |" for row in rows]
    return lines


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4f}" if abs(value) < 10 else f"{value:.1f}"
    return str(value)


def comparison_table(summaries: Sequence[dict[str, Any]]) -> list[str]:
    """One row per model: quality, latency and cost side by side (the guide: try the smaller model)."""
    names = [
        n
        for n in ("search.accuracy@1", "search.mrr", "answer.similarity", "answer.judge_accuracy", "not_found.f1")
        if any(n in s["metrics"] for s in summaries)
    ]
    rows = [
        [
            s["model"],
            *[s["metrics"].get(n, "") for n in names],
            s["latency_ms"]["p50"],
            s["latency_ms"]["p90"],
            s["tokens"]["total"],
            f"{s['cost_usd']['per_question']:.6f}",
            s["errors"],
        ]
        for s in summaries
    ]
    return _table(["model", *names, "p50 ms", "p90 ms", "tokens", "USD/question", "errors"], rows)


def markdown(result: dict[str, Any], baseline_check: BaselineCheck | None) -> str:
    summaries = result["models"]
    lines = [
        f"# Evaluation of `{result['dataset']}` against {result['target']}",
        "",
        f"{result['examples']} examples, top_k {result['top_k']}, answer similarity embedded with "
        f"{result['similarity_embedder']}; run at {result['finished_at']}.",
        "",
        "## Models compared",
        "",
        *comparison_table(summaries),
    ]
    for title, prefix in _SECTIONS:
        names = sorted({n for s in summaries for n in s["metrics"] if n.startswith(prefix)})
        if names:
            rows = [[s["model"], *[s["metrics"].get(n, "") for n in names]] for s in summaries]
            lines += ["", f"## {title}", "", *_table(["model", *[n.removeprefix(prefix) for n in names]], rows)]
    lines += ["", "## Latency (ms, whole request)", ""]
    lines += _table(["model", "p50", "p90", "p99"], [[s["model"], *s["latency_ms"].values()] for s in summaries])
    streamed = [s for s in summaries if s.get("ttft_ms")]
    if streamed:
        lines += ["", "## Time to first token (ms, streamed)", ""]
        lines += _table(["model", "p50", "p90", "p99"], [[s["model"], *s["ttft_ms"].values()] for s in streamed])
    lines += ["", "## Tokens and cost", ""]
    lines += _table(
        ["model", "prompt tokens", "completion tokens", "total USD", "USD per question", "cache hits"],
        [
            [
                s["model"],
                s["tokens"]["prompt"],
                s["tokens"]["completion"],
                f"{s['cost_usd']['total']:.6f}",
                f"{s['cost_usd']['per_question']:.8f}",
                s["cache_hits"],
            ]
            for s in summaries
        ],
    )
    if baseline_check is not None:
        lines += ["", f"## Against the baseline ({baseline_check.path}, model {baseline_check.model})", ""]
        lines += _table(["metric", "baseline", "now", "change", "tolerance", ""], baseline_check.rows)
        lines += ["", "**Regression**" if baseline_check.regressions else "No regression."]
    misses = [
        r
        for r in result["rows"][summaries[0]["model"]]
        if r["expected_documents"] and not set(r["expected_documents"]) & set(r["ranked_documents"])
    ]
    if misses:
        lines += ["", f"## Search misses ({summaries[0]['model']}): no relevant document in the top k", ""]
        lines += _table(
            ["id", "question", "expected", "ranked"],
            [
                [m["id"], m["question"], ", ".join(m["expected_documents"]), ", ".join(m["ranked_documents"][:3])]
                for m in misses[:15]
            ],
        )
    return "\n".join(lines) + "\n"


@dataclass
class BaselineCheck:
    path: Path
    model: str
    rows: list[list[Any]]
    regressions: list[str]


def compare(summary: dict[str, Any], baseline_path: Path, tolerance: float | None) -> BaselineCheck:
    """Every baseline metric (higher is better) may drop by at most its tolerance."""
    baseline = orjson.loads(baseline_path.read_bytes())
    default = tolerance if tolerance is not None else float(baseline.get("tolerance", DEFAULT_TOLERANCE))
    per_metric: dict[str, float] = {} if tolerance is not None else baseline.get("tolerances", {})
    rows: list[list[Any]] = []
    regressions: list[str] = []
    for name, expected in baseline["metrics"].items():
        allowed = per_metric.get(name, default)
        now = summary["metrics"].get(name)
        if now is None:
            rows.append([name, expected, "missing", "", allowed, "REGRESSION"])
            regressions.append(name)
            continue
        change = now - expected
        status = "REGRESSION" if change < -allowed else ("better" if change > allowed else "ok")
        if status == "REGRESSION":
            regressions.append(name)
        rows.append([name, expected, now, f"{change:+.4f}", allowed, status])
    return BaselineCheck(baseline_path, str(baseline.get("model", summary["model"])), rows, regressions)


def baseline_of(summary: dict[str, Any], result: dict[str, Any], tolerance: float) -> dict[str, Any]:
    return {
        "dataset": result["dataset"],
        "target": result["target"],
        "model": summary["model"],
        "top_k": result["top_k"],
        "tolerance": tolerance,
        "metrics": summary["metrics"],
    }
