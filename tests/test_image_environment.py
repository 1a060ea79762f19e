"""The container's environment, without Docker: the Dockerfile's install step (runtime dependencies
only, no dev or infra groups) must be enough to import and build the app. Catches a runtime import
of a test-only package, which otherwise only a `docker build` and a crashing task would reveal."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
IMAGE_INSTALL = "uv sync --frozen --no-install-project --no-default-groups"


def _uv() -> list[str]:
    found = shutil.which("uv")
    return [found] if found else [sys.executable, "-m", "uv"]


def test_runtime_dependencies_alone_run_the_app(tmp_path: Path) -> None:
    assert f"RUN {IMAGE_INSTALL}\n" in (REPO / "Dockerfile").read_text(), "keep this test's install step in sync"
    app = tmp_path / "app"
    app.mkdir()
    for name in ("pyproject.toml", "uv.lock", "README.md"):
        shutil.copy(REPO / name, app / name)
    shutil.copytree(REPO / "service", app / "service", ignore=shutil.ignore_patterns("__pycache__"))
    env = {**os.environ, "UV_PROJECT_ENVIRONMENT": str(app / ".venv"), "UV_OFFLINE": "1"}
    subprocess.run([*_uv(), *IMAGE_INSTALL.split()[1:]], cwd=app, env=env, check=True, capture_output=True)

    installed = {p.name.lower() for p in (app / ".venv").glob("lib/python*/site-packages/*")}
    assert not {"pytest", "moto", "pulumi", "hypothesis"} & installed

    python = app / ".venv" / "bin" / "python"
    check = "from service.main import create_app; print(sorted(create_app().openapi()['paths']))"
    result = subprocess.run(
        [str(python), "-c", check],
        cwd=app,
        env={"PATH": os.environ["PATH"], "PYTHONPATH": str(app), "OPENAI_API_KEY": "sk-image-test-aaaaaaaa"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "/v1/chat/completions" in result.stdout
