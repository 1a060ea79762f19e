"""`make run`: the service on http://127.0.0.1:8000 with embedded defaults, until interrupted.

With no OPENAI_API_KEY (nor OPENAI_API_KEY_SECRET_ARN) it starts the local stub upstream and
points the service at it, and says so in the log: answers then come from the stub, not OpenAI.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from contextlib import ExitStack
from pathlib import Path

import structlog

from service.contract import CONTAINER_PORT, Env
from service.logging import configure_logging
from service.stub.testing import run_stub

log = structlog.get_logger("service.local")
REPO_ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    configure_logging(os.environ.get(Env.LOG_LEVEL, "info"))
    env = dict(os.environ)
    env.setdefault("HOST", "127.0.0.1")
    env.setdefault(Env.PORT, str(CONTAINER_PORT))
    env.setdefault(Env.ENVIRONMENT, "local")
    with ExitStack() as stack:
        if not env.get(Env.OPENAI_API_KEY) and not env.get(Env.OPENAI_API_KEY_SECRET_ARN):
            stub = stack.enter_context(run_stub())
            env[Env.OPENAI_BASE_URL] = stub.base_url
            env[Env.OPENAI_API_KEY] = "stub-key-not-a-real-openai-key"
            log.warning(
                "using_local_stub",
                message="OPENAI_API_KEY is not set: answers come from the local stub upstream, not OpenAI",
                stub_url=stub.base_url,
            )
        log.info(
            "serving", url=f"http://{env['HOST']}:{env[Env.PORT]}", docs=f"http://{env['HOST']}:{env[Env.PORT]}/docs"
        )
        server = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", "service/gunicorn.conf.py", "service.main:app"],
            cwd=REPO_ROOT,
            env=env,
        )
        # Ctrl-C reaches gunicorn too (same process group); wait for it to finish shutting down.
        signal.signal(signal.SIGTERM, lambda *_: server.terminate())
        while True:
            try:
                return server.wait()
            except KeyboardInterrupt:
                continue


if __name__ == "__main__":
    sys.exit(main())
