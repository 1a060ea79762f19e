"""`make eval-baseline STACK=...`: the first baseline of a deployed stack, from its Pulumi outputs."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from evals.__main__ import main as run_evals
from evals.first_baseline import main
from service.settings import LOCAL_DEV_KEY
from tests.support.service import ServiceProcess


def _fake_pulumi(bin_dir: Path, outputs: dict[str, str], calls: Path) -> None:
    """A `pulumi` on PATH that answers `stack output <name> --stack <stack>` from `outputs`."""
    script = bin_dir / "pulumi"
    script.write_text(
        "#!/usr/bin/env python3\n"
        "import json, sys\n"
        f"open({str(calls)!r}, 'a').write(' '.join(sys.argv[1:]) + '\\n')\n"
        f"outputs = json.loads({json.dumps(json.dumps(outputs))})\n"
        "print(outputs[sys.argv[3]])\n"
    )
    script.chmod(script.stat().st_mode | stat.S_IEXEC)


def test_the_first_baseline_is_written_from_the_stacks_outputs(
    service: ServiceProcess, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = tmp_path / "calls"
    _fake_pulumi(tmp_path, {"service_url": service.url, "first_client_api_key": LOCAL_DEV_KEY}, calls)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.delenv("EVAL_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    baseline = tmp_path / "staging.json"
    reports = tmp_path / "reports"
    common = ["--limit", "6", "--out", str(reports)]
    assert main(["staging", "--baseline-file", str(baseline), *common]) == 0
    assert calls.read_text().splitlines() == [
        "stack output service_url --stack staging",
        "stack output first_client_api_key --stack staging --show-secrets",
    ]
    written = json.loads(baseline.read_text())
    assert {"search.mrr", "answer.similarity", "not_found.f1"} <= set(written["metrics"])
    # What the deploy's evaluation step then runs against the stack passes against it.
    assert run_evals(["--target", service.url, "--baseline", str(baseline), *common]) == 0


def test_without_pulumi_it_says_what_to_do(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(SystemExit, match="pulumi is not on PATH"):
        main(["staging", "--baseline-file", str(tmp_path / "b.json")])
