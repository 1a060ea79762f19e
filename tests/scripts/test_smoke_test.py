"""scripts/smoke_test.py run as people and the deploy workflow run it: a subprocess against a live service."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from service.stub.testing import HOST, free_port
from tests.support.service import ServiceProcess

REPO_ROOT = Path(__file__).resolve().parents[2]
SCRIPT = REPO_ROOT / "scripts" / "smoke_test.py"
CHECKS = ("health", "models", "chat completion", "streamed chat completion")


def smoke(*args: str, base_url: str | None = None, api_key: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SMOKE_")}
    if base_url is not None:
        env["SMOKE_BASE_URL"] = base_url
    if api_key is not None:
        env["SMOKE_API_KEY"] = api_key
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_smoke_test_passes_every_check_against_the_local_service(service: ServiceProcess) -> None:
    result = smoke(base_url=service.url, api_key=service.api_key)

    assert result.returncode == 0, result.stdout + result.stderr
    for check in CHECKS:
        assert f"PASS {check}:" in result.stdout
    assert "Smoke test passed." in result.stdout
    assert "tokens)" in result.stdout  # the streamed check saw the usage chunk
    assert service.api_key not in result.stdout + result.stderr


def test_smoke_test_accepts_the_url_and_key_as_arguments_and_a_v1_suffix(service: ServiceProcess) -> None:
    result = smoke("--base-url", service.base_url, "--api-key", service.api_key)

    assert result.returncode == 0, result.stdout + result.stderr
    assert f"Smoke test of {service.url}\n" in result.stdout


def test_smoke_test_fails_on_a_wrong_key_without_printing_it(service: ServiceProcess) -> None:
    wrong_key = "sk-client-wrong-0123456789"

    result = smoke(base_url=service.url, api_key=wrong_key)

    assert result.returncode == 1
    assert "PASS health:" in result.stdout
    assert "FAIL models: HTTP 401" in result.stdout
    assert "Smoke test failed." in result.stdout
    assert wrong_key not in result.stdout + result.stderr


def test_smoke_test_fails_on_a_model_the_service_does_not_list(service: ServiceProcess) -> None:
    result = smoke("--model", "not-a-model", base_url=service.url, api_key=service.api_key)

    assert result.returncode == 1
    assert "FAIL models: --model 'not-a-model' is not among the listed models" in result.stdout


def test_smoke_test_fails_when_nothing_answers_at_the_url() -> None:
    url = f"http://{HOST}:{free_port()}"

    result = smoke("--wait-seconds", "0", base_url=url, api_key="any-key")

    assert result.returncode == 1
    assert f"FAIL health: GET {url}/healthz did not answer 200" in result.stdout
    assert "any-key" not in result.stdout + result.stderr


def test_smoke_test_without_a_url_is_a_usage_error() -> None:
    result = smoke(api_key="any-key")

    assert result.returncode == 2
    assert "SMOKE_BASE_URL" in result.stderr
