"""Run the stub as a real process for tests and benchmarks.

    with run_stub(api_key=["sk-test"], ttft_ms=20) as stub:
        client = openai.OpenAI(base_url=stub.base_url, api_key="sk-test")
        stub.faults([{"status": 429, "retry_after_ms": 10, "count": 2}])
        ...
        assert stub.stats()["requests"]["/v1/chat/completions"] == 3

Only the standard library is used here, so importing this module costs nothing.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Final

HOST: Final = "127.0.0.1"
STARTUP_SECONDS: Final = 15.0
STOP_SECONDS: Final = 5.0
_PORT_ATTEMPTS: Final = 3


def free_port() -> int:
    """A port nothing listens on right now (the OS picks it; a race with other processes is possible)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def _request(url: str, method: str = "GET", payload: object = None, timeout: float = 5.0) -> Any:
    data = None if payload is None else json.dumps(payload).encode()
    request = urllib.request.Request(  # noqa: S310 - always http://127.0.0.1
        url, data=data, method=method, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
        return json.loads(response.read())


@dataclass(frozen=True)
class StubServer:
    """A running stub process and its control endpoints."""

    port: int
    process: subprocess.Popen[bytes]

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def base_url(self) -> str:
        """What an OpenAI client takes as `base_url`."""
        return f"{self.url}/v1"

    def stats(self) -> dict[str, Any]:
        """`{"total": N, "requests": {path: count}, "tokens": {path: {name: count}}, "recent": [...]}`."""
        stats: dict[str, Any] = _request(f"{self.url}/_stub/stats")
        return stats

    def tokens_billed(self, path: str) -> dict[str, int]:
        """Tokens the stub charged on `path`: `{"prompt_tokens", "completion_tokens", "total_tokens"}` (0 if none)."""
        billed: dict[str, int] = self.stats()["tokens"].get(path, {})
        return {name: billed.get(name, 0) for name in ("prompt_tokens", "completion_tokens", "total_tokens")}

    def requests_to(self, path: str) -> int:
        """How many requests reached `path` (e.g. "/v1/chat/completions"), faulted ones included."""
        count: int = self.stats()["requests"].get(path, 0)
        return count

    def last_request(self, path: str) -> dict[str, Any]:
        """The most recent request to `path` (`method`, `path`, `headers`, `body`). Other paths' traffic, such
        as the answers engine embedding its corpus in the background, may have reached the stub since."""
        recent = [r for r in self.stats()["recent"] if r["path"] == path]
        if not recent:
            raise AssertionError(f"the stub has seen no request to {path} lately")
        last: dict[str, Any] = recent[-1]
        return last

    def faults(self, faults: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
        """Queue scripted responses; returns what is pending."""
        pending: list[dict[str, Any]] = _request(f"{self.url}/_stub/faults", "POST", list(faults))["pending"]
        return pending

    def configure(self, **knobs: Any) -> dict[str, Any]:
        """Change knobs at runtime (ttft_ms, tokens_per_second, latency_ms, api_keys, ...)."""
        config: dict[str, Any] = _request(f"{self.url}/_stub/config", "POST", knobs)
        return config

    def reset(self) -> None:
        """Clear stats and faults; knobs back to the command-line values."""
        _request(f"{self.url}/_stub/reset", "POST", {})


def _command(port: int, options: Mapping[str, Any]) -> list[str]:
    command = [sys.executable, "-m", "service.stub", "--host", HOST, "--port", str(port)]
    for name, value in options.items():
        flag = "--api-key" if name in ("api_key", "api_keys") else "--" + name.replace("_", "-")
        values = value if isinstance(value, list | tuple) else [value]
        for item in values:
            command += [flag, str(item)]
    return command


def _wait_ready(server: StubServer, deadline: float) -> bool:
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            return False
        try:
            _request(f"{server.url}/_stub/health", timeout=1.0)
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.05)
        else:
            return True
    raise TimeoutError(f"the stub did not answer {server.url}/_stub/health within {STARTUP_SECONDS}s")


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(STOP_SECONDS)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextmanager
def run_stub(port: int | None = None, **cli_options: Any) -> Iterator[StubServer]:
    """Start `python -m service.stub` on `port` (a free one by default) and stop it on exit.

    `cli_options` are the command-line flags with underscores: `ttft_ms=50`, `api_key=["k1", "k2"]`.
    """
    attempts = 1 if port is not None else _PORT_ATTEMPTS
    for attempt in range(attempts):
        chosen = port if port is not None else free_port()
        process = subprocess.Popen(  # noqa: S603 - our own module under this interpreter
            _command(chosen, cli_options), stdout=subprocess.DEVNULL
        )
        server = StubServer(chosen, process)
        try:
            ready = _wait_ready(server, time.monotonic() + STARTUP_SECONDS)
        except BaseException:
            _stop(process)
            raise
        if ready:
            break
        # Exited early: most likely the free port was taken in the meantime; try another.
        if attempt == attempts - 1:
            raise RuntimeError(f"the stub exited with code {process.returncode} (its stderr is above)")
    try:
        yield server
    finally:
        _stop(process)
