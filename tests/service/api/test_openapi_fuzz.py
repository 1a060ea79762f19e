"""Schemathesis against the served app (gunicorn, the stub upstream): every endpoint, every check.

The OpenAPI document declares the request bodies, the bearer scheme and every error status
(service/api/openapi.py); schemathesis generates valid and invalid requests from it and checks each
response: no server error, documented status, content type, headers and schema, invalid input refused,
valid input accepted, authentication enforced. The run is bounded by the examples per operation.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx2
import pytest

from service.contract import READY_PATH
from service.stub.testing import StubServer
from tests.conftest import service_env
from tests.support.service import REPO_ROOT, ServiceProcess, run_service

MAX_EXAMPLES = 100  # per operation and phase: about 700 cases, 15 s on two cores
SEED = 1  # the same cases every run; change it (or the examples) to explore further
RUN_SECONDS = 300


@pytest.fixture(scope="module")
def fuzzed_service(stub_server: StubServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServiceProcess]:
    """The local client is an admin here, so the admin endpoint is exercised beyond its 403."""
    env = service_env(stub_server, ADMIN_CLIENT_IDS="local-dev")
    with run_service(tmp_path_factory.mktemp("fuzzed"), env) as svc:
        deadline = time.monotonic() + 30
        while not httpx2.get(svc.url + READY_PATH).json()["checks"].get("answers_index", "").startswith("ok"):
            assert time.monotonic() < deadline, "the knowledge base index was not ready"
            time.sleep(0.1)
        yield svc


def test_schemathesis_finds_no_server_error_and_no_schema_violation(
    fuzzed_service: ServiceProcess, stub: StubServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    report = tmp_path / "schemathesis.json"
    command = [
        sys.executable, "-m", "schemathesis.cli", "run", f"{fuzzed_service.url}/openapi.json",
        "--checks", "all",
        "--header", f"Authorization: Bearer {fuzzed_service.api_key}",
        "--max-examples", str(MAX_EXAMPLES),
        "--seed", str(SEED),
        "--request-timeout", "30",
        "--generation-database", "none",
        "--no-color",
        "--report", "json", "--report-json-path", str(report),
    ]  # fmt: skip
    env = {**os.environ, "SCHEMATHESIS_HOOKS": "tests.support.schemathesis_hooks", "PYTHONPATH": str(REPO_ROOT)}
    run = subprocess.run(
        command, check=False, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=RUN_SECONDS
    )
    assert report.exists(), run.stdout[-4000:] + run.stderr[-2000:]
    result = json.loads(report.read_text())
    cases = result["test_cases"]
    with capsys.disabled():
        print(
            f"\nschemathesis: {cases['generated']} cases on {result['operations']['tested']} operations, all checks, "
            f"{cases['with_failures']} with failures, {len(result['errors'])} errors, "
            f"{result['filtered']} integer-as-float refusals set aside (tests/support/schemathesis_hooks.py)"
        )
    assert run.returncode == 0, run.stdout[-6000:]
    assert result["operations"]["tested"] == result["operations"]["total"]
    assert cases["with_failures"] == 0
    assert result["errors"] == []
    assert not any(result["warnings"].values()), result["warnings"]
