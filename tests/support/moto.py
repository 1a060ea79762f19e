"""moto's AWS server as a real process on a free loopback port."""

from __future__ import annotations

import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from service.stub.testing import HOST, free_port

# Credentials moto accepts; they are not real and authorise nothing anywhere else.
FAKE_AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_REGION": "us-east-1",
    "AWS_DEFAULT_REGION": "us-east-1",
}


@dataclass(frozen=True)
class MotoServer:
    url: str

    def env(self) -> dict[str, str]:
        """Environment for a process (boto3) that should talk to this server instead of AWS."""
        return {**FAKE_AWS_ENV, "AWS_ENDPOINT_URL": self.url}


@pytest.fixture(scope="session")
def moto_server() -> Iterator[MotoServer]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", HOST, "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://{HOST}:{port}"
    deadline = time.monotonic() + 30
    try:
        while True:
            try:
                with urllib.request.urlopen(f"{url}/moto-api/", timeout=1):  # noqa: S310 - loopback
                    break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("moto's server did not start") from None
                time.sleep(0.1)
        yield MotoServer(url)
    finally:
        process.terminate()
        process.wait(10)
