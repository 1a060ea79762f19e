"""`python -m evals`: evaluate retrieval Q&A against the stub, a local server or a deployed URL.

    python -m evals                                   # qa dataset, in-process app against the stub
    python -m evals --baseline evals/baseline/stub.json   # ... and exit 1 on a regression (CI)
    python -m evals --target http://127.0.0.1:8000    # `make run`'s server (key: EVAL_API_KEY)
    python -m evals --target https://staging.example.com --model gpt-4o-mini --model gpt-4.1-mini
    python -m evals --dataset answerable              # the small classification example

Exit codes: 0 fine, 1 a metric fell below the baseline by more than the tolerance, 2 too many errors.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from evals import datasets
from evals.report import DEFAULT_TOLERANCE, baseline_of, compare, comparison_table, markdown
from evals.runner import openai_embedder, run_model, stub_embedder
from evals.targets import AnswersClient, in_process, served

REPORTS_DIR = Path(__file__).resolve().parent / "reports"
DEFAULT_MODEL = "gpt-4o-mini"


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m evals", description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", default="qa", help="a name in evals/datasets (qa, answerable) or a .jsonl path")
    parser.add_argument("--target", default="stub", help="stub | openai (in-process app) | a URL of a running service")
    parser.add_argument(
        "--model", action="append", dest="models", help="repeat to compare models (default gpt-4o-mini)"
    )
    parser.add_argument(
        "--top-k", type=int, default=5, help="chunks retrieved per question (search is scored on these)"
    )
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--limit", type=int, help="only the first N examples (a quick look)")
    parser.add_argument(
        "--api-key", default=os.environ.get("EVAL_API_KEY", "local-dev-key"), help="client key (EVAL_API_KEY)"
    )
    parser.add_argument("--use-cache", action="store_true", help="let answers come from the response cache")
    parser.add_argument("--stream", action="store_true", help="ask for streamed answers and report time to first token")
    parser.add_argument(
        "--similarity",
        choices=("auto", "stub", "openai"),
        default="auto",
        help="embedder for answer similarity; auto: OpenAI when OPENAI_API_KEY is set and the target is not the stub",
    )
    parser.add_argument("--judge", nargs="?", const=DEFAULT_MODEL, metavar="MODEL", help="add the model-graded check")
    parser.add_argument("--baseline", type=Path, help="compare the first model's metrics with this file")
    parser.add_argument(
        "--tolerance", type=float, help=f"allowed drop per metric (default: the baseline's, or {DEFAULT_TOLERANCE})"
    )
    parser.add_argument("--write-baseline", type=Path, help="store the first model's metrics as the new baseline")
    parser.add_argument("--max-error-rate", type=float, default=0.0, help="fraction of failed requests tolerated")
    parser.add_argument(
        "--out", type=Path, default=REPORTS_DIR, help="directory for the JSON result and Markdown report"
    )
    return parser.parse_args(argv)


def _target(args: argparse.Namespace, models: Sequence[str]) -> AbstractAsyncContextManager[Any]:
    if args.target in ("stub", "openai"):
        return in_process(args.target, models)
    if args.target.startswith(("http://", "https://")):
        return served(args.target)
    raise SystemExit(f"--target must be stub, openai or a URL, not {args.target!r}")


async def evaluate(args: argparse.Namespace) -> dict[str, Any]:
    examples = datasets.load(args.dataset)[: args.limit]
    models = args.models or [DEFAULT_MODEL]
    use_openai = args.similarity == "openai" or (
        args.similarity == "auto" and args.target != "stub" and bool(os.environ.get("OPENAI_API_KEY"))
    )
    embedder = openai_embedder() if use_openai else stub_embedder()
    summaries, rows = [], {}
    async with _target(args, models) as http:
        client = AnswersClient(http, args.api_key, use_cache=args.use_cache, stream=args.stream)
        for model in models:
            result = await run_model(
                client,
                examples,
                model,
                top_k=args.top_k,
                concurrency=args.concurrency,
                embedder=embedder,
                judge_model=args.judge,
            )
            summaries.append(result.summary(args.top_k))
            rows[model] = result.rows()
    return {
        "dataset": args.dataset,
        "target": args.target,
        "examples": len(examples),
        "top_k": args.top_k,
        "similarity_embedder": "OpenAI text-embedding-3-small" if use_openai else "the stub's hashed bag of words",
        "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "models": summaries,
        "rows": rows,
    }


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    result = asyncio.run(evaluate(args))
    first = result["models"][0]
    check = compare(first, args.baseline, args.tolerance) if args.baseline else None
    if check is not None:
        result["baseline"] = {"path": str(args.baseline), "regressions": check.regressions, "rows": check.rows}
    args.out.mkdir(parents=True, exist_ok=True)
    stem = f"{Path(args.dataset).stem}-{datetime.now(UTC).strftime('%Y%m%dT%H%M%SZ')}"
    json_path, md_path = args.out / f"{stem}.json", args.out / f"{stem}.md"
    json_path.write_bytes(orjson.dumps(result, option=orjson.OPT_INDENT_2))
    md_path.write_text(markdown(result, check))
    print("\n".join(comparison_table(result["models"])))
    for summary in result["models"]:
        if summary.get("ttft_ms"):
            ttft = summary["ttft_ms"]
            print(
                f"time to first token, {summary['model']}: p50 {ttft['p50']} ms, p90 {ttft['p90']}, p99 {ttft['p99']}"
            )
    print(f"\nreport: {md_path}\nresult: {json_path}")
    if args.write_baseline:
        tolerance = args.tolerance if args.tolerance is not None else DEFAULT_TOLERANCE
        args.write_baseline.write_bytes(
            orjson.dumps(baseline_of(first, result, tolerance), option=orjson.OPT_INDENT_2) + b"\n"
        )
        print(f"baseline written: {args.write_baseline}")
    errors = sum(s["errors"] for s in result["models"])
    total = sum(s["examples"] for s in result["models"])
    if total and errors / total > args.max_error_rate:
        print(f"FAILED: {errors} of {total} requests failed (see the report)", file=sys.stderr)
        return 2
    if check is not None and check.regressions:
        print(f"REGRESSION against {args.baseline}: {', '.join(check.regressions)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
