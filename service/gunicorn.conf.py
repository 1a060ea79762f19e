"""Gunicorn settings, each read from the environment with a default; logged once at boot.

Timeouts come from the streaming time budget in service.contract, the same object the
infrastructure uses for the load balancer and ECS, so the two cannot drift apart.
"""

from __future__ import annotations

import gc
import os
import socket
from typing import Any

from service.contract import CONTAINER_PORT, DEFAULT_BUDGET, Env, StreamingBudget
from service.logging import configure_logging

_budget = StreamingBudget(
    max_stream_seconds=int(os.environ.get(Env.MAX_STREAM_SECONDS, DEFAULT_BUDGET.max_stream_seconds)),
    heartbeat_seconds=int(float(os.environ.get(Env.SSE_HEARTBEAT_SECONDS, DEFAULT_BUDGET.heartbeat_seconds))),
)

# In the container the load balancer reaches us on every interface; `make run` sets HOST=127.0.0.1.
bind = f"{os.environ.get('HOST', '0.0.0.0')}:{os.environ.get(Env.PORT, CONTAINER_PORT)}"  # noqa: S104
workers = int(os.environ.get(Env.WEB_CONCURRENCY, "2"))
# Each worker listens on its own SO_REUSEPORT socket and the kernel spreads new connections across them. On one
# shared socket the worker that wakes first accepts a whole burst: 83/17 splits, and a c=50 benchmark lost a
# fifth of its throughput with them. The cost: a worker that exits resets connections still in its queue
# (in ECS the load balancer has drained the task first).
reuse_port = True
worker_class = "service.server.worker.Worker"  # uvicorn's, with request timeouts and the shutdown notice
# The app (every module it imports, ~60 MiB) is loaded once in the master and shared copy-on-write by the
# workers: a container's memory limit charges shared pages once. Settings are checked once, before any
# worker starts. Clients, pools and event loops are built per worker, in the app's lifespan.
preload_app = True
# On SIGTERM, in-flight streams get this long to finish before workers are killed.
graceful_timeout = int(os.environ.get(Env.GRACEFUL_TIMEOUT, _budget.graceful_timeout_seconds))
# A worker that stops heart-beating to the master (a blocked event loop) is restarted after this.
timeout = int(os.environ.get("WORKER_TIMEOUT", "30"))
# Idle keep-alive connections must outlive the load balancer's, or it reuses a closed one (a 502).
keepalive = int(os.environ.get("KEEPALIVE_SECONDS", _budget.keepalive_seconds))
max_requests = int(os.environ.get("MAX_REQUESTS", "0"))
max_requests_jitter = int(os.environ.get("MAX_REQUESTS_JITTER", "0"))
loglevel = os.environ.get(Env.LOG_LEVEL, "info")
accesslog = None  # the app writes one structured line per request
errorlog = "-"
proc_name = "openai-service"
# Gunicorn's control socket lives under $HOME, which is read-only in the container; we don't use it.
control_socket_disable = True
# The container's root filesystem is read-only; gunicorn's heartbeat files need a writable tmp.
# /dev/shm is memory-backed, so heartbeats never block on disk (gunicorn's own advice for containers).
worker_tmp_dir = os.environ.get("WORKER_TMP_DIR") or ("/dev/shm" if os.path.isdir("/dev/shm") else None)  # noqa: S108


def _refuse_a_taken_port() -> None:
    """With reuse_port a second server on this port would silently share its traffic: fail as a plain bind would."""
    host, _, port = bind.rpartition(":")
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # TIME_WAIT leftovers are not a server
        try:
            probe.bind((host.strip("[]"), int(port)))
        except OSError as exc:
            raise SystemExit(f"cannot listen on {bind}: {exc.strerror} (is another server running there?)") from None


def on_starting(server: Any) -> None:
    configure_logging(loglevel)
    _refuse_a_taken_port()
    # The tokenizer's tables (~70 MiB) are loaded once here, in the master, so every worker shares
    # them copy-on-write instead of building its own copy; gc.freeze() keeps the collector from
    # touching (and so un-sharing) what was loaded before the fork (the preloaded app included).
    from service.ratelimit.tokens import o200k_base  # noqa: PLC0415 - only the master pays for it

    o200k_base()
    gc.freeze()
    server.log.info(
        "gunicorn config: bind=%s workers=%s reuse_port=%s worker_class=%s graceful_timeout=%s timeout=%s "
        "keepalive=%s max_requests=%s max_stream_seconds=%s",
        bind,
        workers,
        reuse_port,
        worker_class,
        graceful_timeout,
        timeout,
        keepalive,
        max_requests,
        _budget.max_stream_seconds,
    )
