"""The service under gunicorn, as `make run` and the container start it, on a free loopback port."""

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
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from service.contract import HEALTH_PATH, Env
from service.settings import LOCAL_DEV_KEY, Settings, env_name
from service.stub.testing import HOST, free_port

REPO_ROOT: Final = Path(__file__).resolve().parents[1]
CLIENT_KEY: Final = LOCAL_DEV_KEY  # accepted when ENVIRONMENT=local and no CLIENT_API_KEYS are set
# The service's own variables are not inherited from the shell running the benchmark (a REDIS_URL there
# would turn the in-process configuration into another): each configuration sets what it needs.
_SETTINGS_VARIABLES: Final = frozenset(env_name(name).upper() for name in Settings.model_fields)
STARTUP_SECONDS: Final = 60.0
STOP_SECONDS: Final = 15.0


@dataclass(frozen=True)
class RunningService:
    port: int
    master_pid: int
    log_path: Path
    client_key: str = CLIENT_KEY

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def authorization(self) -> str:
        return f"Bearer {self.client_key}"

    def served_requests(self) -> int:
        """This month's requests in the client's usage (`GET /v1/usage`): every request answered, hit or miss.

        Usage is per worker in-process, so only with Redis is this the whole service's count.
        """
        request = urllib.request.Request(  # noqa: S310 - loopback only
            f"{self.url}/v1/usage", headers={"Authorization": self.authorization}
        )
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            count: int = json.loads(response.read())["month"]["requests"]
        return count

    def worker_pids(self) -> list[int]:
        """The gunicorn workers: the master's children."""
        children = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except (OSError, IndexError):
                continue  # exited while we looked
            if int(fields[1]) == self.master_pid:
                children.append(int(stat.parent.name))
        return sorted(children)


@dataclass(frozen=True)
class MemoryUse:
    """One process's memory in MiB. RSS counts pages shared with the gunicorn master (the
    tokenizer tables, loaded before the fork) in full; PSS charges each sharer its part;
    private is what this worker alone holds."""

    rss: float
    pss: float
    private: float

    def __str__(self) -> str:
        return f"RSS {self.rss:.1f}, PSS {self.pss:.1f}, private {self.private:.1f} MiB"


def memory_mib(pid: int) -> MemoryUse | None:
    """From /proc/<pid>/smaps_rollup; None if the process is gone."""
    try:
        rollup = Path(f"/proc/{pid}/smaps_rollup").read_text()
    except OSError:
        return None
    kib: dict[str, int] = {}
    for line in rollup.splitlines()[1:]:
        name, _, rest = line.partition(":")
        if rest.strip().endswith("kB"):
            kib[name] = int(rest.split()[0])
    private = kib.get("Private_Clean", 0) + kib.get("Private_Dirty", 0)
    return MemoryUse(rss=kib.get("Rss", 0) / 1024, pss=kib.get("Pss", 0) / 1024, private=private / 1024)


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(url + HEALTH_PATH, timeout=1) as response:  # noqa: S310 - loopback
            return bool(response.status == 200)
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return False


def _log_tail(path: Path) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-30:])


@contextmanager
def run_service(
    upstream_base_url: str,
    log_path: Path,
    workers: int = 2,
    *,
    settings_env: Mapping[str, str] | None = None,
    client_key: str = CLIENT_KEY,
) -> Iterator[RunningService]:
    """`gunicorn -c service/gunicorn.conf.py service.main:app` against the stub, logs to `log_path`.

    `settings_env` (service settings as environment variables) is applied over the local defaults below.
    """
    port = free_port()
    inherited = {name: value for name, value in os.environ.items() if name.upper() not in _SETTINGS_VARIABLES}
    env = inherited | {
        "HOST": HOST,
        Env.PORT: str(port),
        Env.WEB_CONCURRENCY: str(workers),
        Env.OPENAI_API_KEY: "sk-bench-not-a-real-key",
        Env.OPENAI_BASE_URL: upstream_base_url,
        Env.ENVIRONMENT: "local",
        Env.LOG_LEVEL: "info",  # as deployed: one request line per request, part of what is measured
        Env.GRACEFUL_TIMEOUT: "5",  # nothing is in flight when we stop it
        **(settings_env or {}),
    }
    # What `uv run --frozen gunicorn ...` runs, minus the uv process in between: Popen's pid is the master.
    command = [sys.executable, "-m", "gunicorn", "-c", "service/gunicorn.conf.py", "service.main:app"]
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, cwd=REPO_ROOT, env=env, stdout=log, stderr=log)
    try:
        deadline = time.monotonic() + STARTUP_SECONDS
        url = f"http://{HOST}:{port}"
        while not _healthy(url):
            if process.poll() is not None:
                raise RuntimeError(f"the service exited with code {process.returncode}:\n{_log_tail(log_path)}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"the service was not healthy within {STARTUP_SECONDS}s:\n{_log_tail(log_path)}")
            time.sleep(0.2)
        yield RunningService(port, process.pid, log_path, client_key)
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(STOP_SECONDS)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
