"""A `redis-server` of the benchmark's own on a free loopback port, never the machine's (6379)."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import redis

from service.stub.testing import HOST, free_port

START_SECONDS: Final = 10.0
STOP_SECONDS: Final = 5.0
_DEFAULT_PORT: Final = 6379


@dataclass(frozen=True)
class RedisServer:
    port: int

    @property
    def url(self) -> str:
        return f"redis://{HOST}:{self.port}/0"


def redis_server_path() -> str:
    path = shutil.which("redis-server")
    if path is None:
        raise SystemExit(
            "bench: redis-server is not installed (the production configuration needs one); install it with "
            "`bash scripts/ensure-system-tools.sh redis-server`, or run `--config in-process` only"
        )
    return path


def _port() -> int:
    while (port := free_port()) == _DEFAULT_PORT:
        pass  # the OS hands out ephemeral ports, so this does not loop in practice
    return port


@contextmanager
def run_redis() -> Iterator[RedisServer]:
    """An empty, non-persistent Redis for one service run; stopped on exit."""
    binary = redis_server_path()
    port = _port()
    with tempfile.TemporaryDirectory(prefix="bench-redis-") as directory:
        log_path = Path(directory) / "redis.log"
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                [
                    binary,
                    "--port", str(port),
                    "--bind", HOST,
                    "--save", "",
                    "--appendonly", "no",
                    "--dir", directory,
                    "--daemonize", "no",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
            )  # fmt: skip
        try:
            _wait_ready(process, port, log_path)
            yield RedisServer(port)
        finally:
            process.terminate()
            try:
                process.wait(STOP_SECONDS)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _wait_ready(process: subprocess.Popen[bytes], port: int, log_path: Path) -> None:
    deadline = time.monotonic() + START_SECONDS
    while True:
        try:
            with redis.Redis(host=HOST, port=port, socket_timeout=1) as client:
                client.ping()
        except redis.ConnectionError:
            if process.poll() is not None or time.monotonic() > deadline:
                output = log_path.read_text(errors="replace")[-2000:]
                raise RuntimeError(f"redis-server did not start on port {port}:\n{output}") from None
            time.sleep(0.05)
        else:
            return
