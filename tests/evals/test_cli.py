"""`python -m evals` end to end against a locally served app (the session's gunicorn service)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from evals.__main__ import main
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
            "gpt-4.1-nano",
        ]
    )
    assert code == 0
    table = capsys.readouterr().out
    assert "| gpt-4o-mini |" in table
    assert "| gpt-4.1-nano |" in table


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
