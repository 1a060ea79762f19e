"""The reference service as a real process: gunicorn with uvicorn workers on a free loopback port."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import openai

from service.contract import HEALTH_PATH
from service.settings import LOCAL_DEV_KEY
from service.stub.testing import HOST, free_port

REPO_ROOT = Path(__file__).resolve().parents[2]
STARTUP_SECONDS = 30.0
# Variables of the developer's shell that would change what the service under test does.
_SCRUBBED = (
    "OPENAI_API_KEY",
    "OPENAI_API_KEY_SECRET_ARN",
    "OPENAI_BASE_URL",
    "OPENAI_ORG_ID",
    "OPENAI_PROJECT_ID",
    "CLIENT_API_KEYS",
    "REDIS_URL",
    "REDIS_AUTH_TOKEN",
    "ENVIRONMENT",
    "PORT",
    "WEB_CONCURRENCY",
)


@dataclass
class ServiceProcess:
    port: int
    process: subprocess.Popen[bytes]
    log_path: Path
    api_key: str = LOCAL_DEV_KEY
    env: dict[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def base_url(self) -> str:
        return f"{self.url}/v1"

    def logs(self) -> str:
        return self.log_path.read_text(errors="replace")

    def log_line(self, *texts: str, timeout: float = 10.0) -> dict[str, Any]:
        """The first JSON log line holding every one of `texts`, waiting for it: a request's line is written
        after its last byte is sent, so a client can have its answer a moment before the line exists."""
        deadline = time.monotonic() + timeout
        while True:
            for line in self.logs().splitlines():
                if line.startswith("{") and all(text in line for text in texts):
                    found: dict[str, Any] = json.loads(line)
                    return found
            if time.monotonic() > deadline:
                raise AssertionError(f"no log line held all of {texts!r} within {timeout:g}s")
            time.sleep(0.02)  # polling a file for a line, bounded by the deadline

    def client(self, api_key: str | None = None, **options: Any) -> openai.OpenAI:
        """An official SDK client for this service; no client-side retries unless asked."""
        options.setdefault("max_retries", 0)
        options.setdefault("timeout", 30)
        return openai.OpenAI(base_url=self.base_url, api_key=api_key or self.api_key, **options)

    def async_client(self, api_key: str | None = None, **options: Any) -> openai.AsyncOpenAI:
        options.setdefault("max_retries", 0)
        options.setdefault("timeout", 30)
        return openai.AsyncOpenAI(base_url=self.base_url, api_key=api_key or self.api_key, **options)

    def terminate(self, sig: int = signal.SIGTERM) -> None:
        if self.process.poll() is None:
            self.process.send_signal(sig)

    def stop(self, timeout: float = 15) -> None:
        self.terminate()
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def _wait_healthy(service: ServiceProcess, deadline: float) -> None:
    while time.monotonic() < deadline:
        if service.process.poll() is not None:
            raise RuntimeError(f"the service exited with code {service.process.returncode}:\n{service.logs()[-4000:]}")
        try:
            with urllib.request.urlopen(service.url + HEALTH_PATH, timeout=1):  # noqa: S310 - loopback
                return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.1)
    service.stop()
    raise TimeoutError(f"the service did not become healthy in {STARTUP_SECONDS}s:\n{service.logs()[-4000:]}")


@contextmanager
def run_service(log_dir: Path, env: Mapping[str, str], workers: int = 2) -> Iterator[ServiceProcess]:
    """Start gunicorn with `env` on top of a clean environment; stop it (SIGTERM, then SIGKILL) on exit."""
    port = free_port()
    full_env = {k: v for k, v in os.environ.items() if k not in _SCRUBBED}
    full_env.update(
        {
            "PORT": str(port),
            "HOST": HOST,
            "WEB_CONCURRENCY": str(workers),
            "ENVIRONMENT": "local",
            "PYTHONUNBUFFERED": "1",
        }
    )
    full_env.update(env)
    log_path = log_dir / f"service-{port}.log"
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", "service/gunicorn.conf.py", "service.main:app"],
            cwd=REPO_ROOT,
            env=full_env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    service = ServiceProcess(port, process, log_path, env=dict(env))
    try:
        _wait_healthy(service, time.monotonic() + STARTUP_SECONDS)
        yield service
    finally:
        service.stop()
