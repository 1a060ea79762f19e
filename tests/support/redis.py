"""A real `redis-server` for the tests: started once per session on a free port, never the machine's own.

Registered in tests/conftest.py (`pytest_plugins`). `redis_server` can be stopped and started again on
the same port mid-test ("Redis killed and restarted"); `redis_url` gives each test an empty database.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import redis

from service.stub.testing import free_port

_START_TIMEOUT_SECONDS = 10.0


@dataclass
class RedisServer:
    binary: str
    port: int
    directory: Path
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def client(self) -> redis.Redis:
        return redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=2)

    def start(self) -> None:
        """Start (or restart, on the same port) and wait until it answers PING."""
        if self.running:
            return
        log = (self.directory / "redis.log").open("ab")
        self.process = subprocess.Popen(
            [
                self.binary,
                "--port", str(self.port),
                "--bind", "127.0.0.1",
                "--save", "",
                "--appendonly", "no",
                "--dir", str(self.directory),
                "--daemonize", "no",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
        log.close()
        deadline = time.monotonic() + _START_TIMEOUT_SECONDS
        while True:
            try:
                with self.client() as client:
                    client.ping()
            except redis.ConnectionError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    output = (self.directory / "redis.log").read_text(errors="replace")[-2000:]
                    pytest.fail(f"redis-server did not start on port {self.port}:\n{output}")
                time.sleep(0.05)
            else:
                return

    def stop(self) -> None:
        """Kill it (SIGKILL: no graceful shutdown, like a crashed node)."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)
        self.process = None


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.fail(
            "redis-server is not installed; the tests need a real one. Install it with "
            "`bash scripts/ensure-system-tools.sh redis-server` (or `apt-get install redis-server`); "
            "`make test` does this for you."
        )
    with tempfile.TemporaryDirectory(prefix="test-redis-") as directory:
        server = RedisServer(binary=binary, port=free_port(), directory=Path(directory))
        server.start()
        try:
            yield server
        finally:
            server.stop()


@pytest.fixture
def redis_url(redis_server: RedisServer) -> str:
    """The session's server, running and empty."""
    redis_server.start()  # a previous test may have stopped it
    with redis_server.client() as client:
        client.flushall()
    return redis_server.url
