"""`make run` on a fresh clone installs the service's runtime dependencies and nothing else, and serves.

The Makefile is read as make runs it (`make -n`), and then run for real in a copy of the repository
with no environment yet, offline from uv's cache: the stub upstream and the API come up, answer, and
the environment holds no test, lint or Pulumi package.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import urllib.request
from pathlib import Path

import pytest

from service.settings import LOCAL_DEV_KEY
from service.stub.testing import HOST, free_port

REPO = Path(__file__).resolve().parents[1]
DEV_AND_INFRA_PACKAGES = {"pytest", "moto", "mypy", "ruff", "hypothesis", "pulumi", "pulumi_aws", "cfnlint"}
READY = "Application startup complete"


@pytest.fixture
def fresh_clone(tmp_path: Path) -> Path:
    clone = tmp_path / "clone"
    clone.mkdir()
    for name in ("Makefile", "pyproject.toml", "uv.lock", "README.md"):
        shutil.copy(REPO / name, clone / name)
    shutil.copytree(REPO / "service", clone / "service", ignore=shutil.ignore_patterns("__pycache__"))
    return clone


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("UV_", "OPENAI_", "VIRTUAL_ENV"))}
    return {**env, "UV_OFFLINE": "1", **extra}


def test_make_run_syncs_only_the_runtime_group_and_not_the_full_environment(fresh_clone: Path) -> None:
    planned = subprocess.run(
        ["make", "-n", "run"], cwd=fresh_clone, env=clean_env(), capture_output=True, text=True, check=True
    ).stdout.splitlines()

    syncs = [line for line in planned if " sync " in f"{line} "]
    assert len(syncs) == 1, planned
    # The image's install step, plus --inexact: nothing another target installed is removed.
    [image_install] = re.findall(r"^RUN uv sync (.*)$", (REPO / "Dockerfile").read_text(), re.M)
    assert set(image_install.split()) | {"--inexact"} == set(syncs[0].split()[syncs[0].split().index("sync") + 1 :])
    [serve] = [line for line in planned if "service.local" in line]
    assert "--no-sync" in serve.split()


def test_a_fresh_make_run_serves_with_runtime_dependencies_only(fresh_clone: Path) -> None:
    port = free_port()
    process = subprocess.Popen(
        ["make", "run"],
        cwd=fresh_clone,
        env=clean_env(PORT=str(port)),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    output: list[str] = []
    try:
        assert process.stdout is not None
        for line in process.stdout:  # the suite's timeout bounds a start that never comes
            output.append(line)
            if READY in line:
                break
        assert any(READY in line for line in output), "".join(output[-30:])

        request = urllib.request.Request(
            f"http://{HOST}:{port}/v1/models", headers={"Authorization": f"Bearer {LOCAL_DEV_KEY}"}
        )
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - loopback
            models = json.load(response)
        assert models["data"]
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(60)

    installed = {p.name.split("-")[0].lower() for p in fresh_clone.glob(".venv/lib/python*/site-packages/*")}
    assert {"fastapi", "gunicorn", "openai", "tiktoken"} <= installed
    assert not DEV_AND_INFRA_PACKAGES & installed
