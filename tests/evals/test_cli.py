"""`python -m evals` end to end against a locally served app (the session's gunicorn service)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from evals.__main__ import main
from evals.runner import JUDGE_MAX_COMPLETION_TOKENS, JUDGE_PROMPT, parse_verdict
from service.stub import text
from service.stub.testing import StubServer
from tests.conftest import UPSTREAM_KEY
from tests.support.service import REPO_ROOT, ServiceProcess

LIMIT = "24"  # a quick slice of the dataset: the full run is `make eval`


def _run(service: ServiceProcess, tmp_path: Path, *extra: str) -> int:
    return main(["--target", service.url, "--limit", LIMIT, "--out", str(tmp_path / "reports"), *extra])


def test_a_run_writes_reports_and_passes_its_own_baseline(service: ServiceProcess, tmp_path: Path) -> None:
    baseline = tmp_path / "baseline.json"
    assert _run(service, tmp_path, "--write-baseline", str(baseline)) == 0
    written = json.loads(baseline.read_text())
    assert {"search.accuracy@1", "search.mrr", "answer.similarity", "not_found.f1"} <= set(written["metrics"])
    assert _run(service, tmp_path, "--baseline", str(baseline)) == 0  # the stub is deterministic
    (report,) = sorted((tmp_path / "reports").glob("*.md"))[-1:]
    text = report.read_text()
    for heading in ("## Search (step 1)", "## Answers (step 2)", "## Latency", "## Tokens and cost", "No regression."):
        assert heading in text
    result = json.loads(sorted((tmp_path / "reports").glob("*.json"))[-1].read_text())
    assert result["models"][0]["errors"] == 0
    assert len(result["rows"]["gpt-4o-mini"]) == int(LIMIT)


def test_a_drop_beyond_the_tolerance_exits_non_zero(service: ServiceProcess, tmp_path: Path) -> None:
    baseline = tmp_path / "baseline.json"
    assert _run(service, tmp_path, "--write-baseline", str(baseline)) == 0
    doctored = json.loads(baseline.read_text())
    doctored["metrics"]["search.mrr"] += 0.05  # as if retrieval had got worse since the baseline
    baseline.write_text(json.dumps(doctored))
    assert _run(service, tmp_path, "--baseline", str(baseline)) == 1
    assert _run(service, tmp_path, "--baseline", str(baseline), "--tolerance", "0.1") == 0


def test_unreachable_targets_fail_as_errors(tmp_path: Path) -> None:
    assert main(["--target", "http://127.0.0.1:9", "--limit", "2", "--out", str(tmp_path)]) == 2


def test_models_are_compared_in_one_table(
    service: ServiceProcess, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        [
            "--target",
            service.url,
            "--dataset",
            "answerable",
            "--limit",
            "6",
            "--out",
            str(tmp_path),
            "--model",
            "gpt-4o-mini",
            "--model",
            "gpt-4.1-mini",
        ]
    )
    assert code == 0
    table = capsys.readouterr().out
    assert "| gpt-4o-mini |" in table
    assert "| gpt-4.1-mini |" in table


def test_the_module_runs_in_process_against_the_stub(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "evals", "--limit", "5", "--out", str(tmp_path)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "| gpt-4o-mini |" in done.stdout


def _latest_result(directory: Path) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(sorted(directory.glob("*.json"))[-1].read_text())
    return loaded


def test_a_streamed_run_reports_time_to_first_token(
    service: ServiceProcess, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _run(service, tmp_path, "--stream", "--limit", "8") == 0
    summary = _latest_result(tmp_path / "reports")["models"][0]
    assert summary["errors"] == 0
    ttft, latency = summary["ttft_ms"], summary["latency_ms"]
    assert 0 < ttft["p50"] <= ttft["p90"] <= ttft["p99"]
    assert ttft["p50"] <= latency["p99"]
    assert "time to first token, gpt-4o-mini: p50" in capsys.readouterr().out
    assert "## Time to first token" in sorted((tmp_path / "reports").glob("*.md"))[-1].read_text()
    # the answers themselves are the same as unstreamed: the quality metrics do not move
    plain = tmp_path / "plain"
    assert main(["--target", service.url, "--limit", "8", "--out", str(plain)]) == 0
    assert _latest_result(plain)["models"][0]["metrics"] == summary["metrics"]
    assert _latest_result(plain)["models"][0]["ttft_ms"] is None


def test_the_judge_grades_every_answer_end_to_end_against_the_stub(
    service: ServiceProcess, stub: StubServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The judge talks to "OpenAI" directly, as in the staging evaluation: here the stub plays the judge.
    monkeypatch.setenv("OPENAI_API_KEY", UPSTREAM_KEY)
    monkeypatch.setenv("OPENAI_BASE_URL", stub.base_url)
    before = stub.requests_to("/v1/chat/completions")
    assert _run(service, tmp_path, "--judge") == 0
    result = _latest_result(tmp_path / "reports")
    rows = result["rows"]["gpt-4o-mini"]
    assert all(isinstance(row["judge"], bool) for row in rows)  # every example has a reference answer
    judge_calls = [
        r for r in stub.stats()["recent"] if "Reply with one word: CORRECT or INCORRECT." in str(r.get("body"))
    ]
    assert judge_calls, "no grading prompt reached the stub"
    assert all(r["body"]["max_completion_tokens"] == JUDGE_MAX_COMPLETION_TOKENS for r in judge_calls)
    assert "max_tokens" not in judge_calls[0]["body"]
    accuracy = result["models"][0]["metrics"]["answer.judge_accuracy"]
    assert accuracy == pytest.approx(sum(row["judge"] for row in rows) / len(rows), abs=1e-4)
    assert 0 < accuracy < 1  # the stub's extractive answers are sometimes right, sometimes not
    assert stub.requests_to("/v1/chat/completions") - before >= 2 * len(rows)  # an answer and a grade each


def test_the_stub_judges_deterministically() -> None:
    prompt = JUDGE_PROMPT.format(question="Who makes it?", reference="Ferncliff Labs makes it.", answer="{}")
    assert text.judge_verdict(prompt.format("It is made by Ferncliff Labs.")) == "CORRECT"
    assert text.judge_verdict(prompt.format("Nobody knows.")) == "INCORRECT"
    assert text.judge_verdict("Question: who?") is None
    assert parse_verdict(text.judge_verdict(prompt.format("Ferncliff Labs")) or "") is True
