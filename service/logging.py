"""Structured JSON logs on stdout (CloudWatch reads them), with secrets scrubbed on the way out.

Scrubbing is the last line of defence, not the first: code never logs a key on purpose. Every
string in every event (ours, and the standard-library records of gunicorn, uvicorn and the SDK)
is checked for registered secret values and for anything shaped like an OpenAI key.
"""

from __future__ import annotations

import logging
import re
import sys
import threading
from collections.abc import MutableMapping
from typing import Any

import orjson
import structlog

_KEY_PATTERN = re.compile(r"\bsk-[A-Za-z0-9_\-]{8,}")
_registered_secrets: set[str] = set()
REDACTED = "[redacted]"


def register_secret(value: str | None) -> None:
    """Make sure `value` never appears in a log line (e.g. the OpenAI key once it is loaded)."""
    if value and len(value) >= 8:
        _registered_secrets.add(value)


def scrub(text: str) -> str:
    for secret in _registered_secrets:
        if secret in text:
            text = text.replace(secret, REDACTED)
    return _KEY_PATTERN.sub(REDACTED, text) if "sk-" in text else text  # the pattern's own prefix: a cheap test first


def _scrub_value(value: Any) -> Any:
    if isinstance(value, str):
        return scrub(value)
    if isinstance(value, dict):
        return {k: _scrub_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_scrub_value(v) for v in value]
    return value


def _scrub_processor(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    for key, value in event.items():
        event[key] = _scrub_value(value)
    return event


def _json_dumps(obj: Any, default: Any = None) -> str:
    return orjson.dumps(obj, default=default).decode()


class _StdoutLine:
    """structlog's last step for our own events: the rendered line, straight to stdout.

    Our events skip the standard library's logging (a record, a handler, a formatter): a request line
    took 58 µs that way and takes 28 µs this way, scrubbing included (timeit, 2026-12-01). `sys.stdout`
    is looked up per line, so a logger made before stdout was swapped (pytest's capture) still reaches
    it. `name` is what `add_logger_name` reads.
    """

    _lock = threading.Lock()  # one line at a time, as logging's handler writes (threads log too)

    def __init__(self, name: str = "root") -> None:
        self.name = name

    def msg(self, message: str) -> None:
        with self._lock:
            sys.stdout.write(message + "\n")
            sys.stdout.flush()

    debug = info = warning = warn = error = err = critical = exception = fatal = failure = log = msg


def configure_logging(level: str = "info") -> None:
    """Idempotent; called by the app factory and by gunicorn's config at boot."""
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.format_exc_info,
    ]
    rendered: list[Any] = [_scrub_processor, structlog.processors.JSONRenderer(serializer=_json_dumps)]
    # Ours: filtered by level before any work is done, then rendered and written (`_StdoutLine`).
    structlog.configure(
        processors=[*shared, *rendered],
        logger_factory=_StdoutLine,
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelNamesMapping()[level.upper()]),
        cache_logger_on_first_use=True,
    )
    # Everyone else's (gunicorn, uvicorn, the SDK, botocore): through the standard library, rendered the same.
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, *rendered],
    )
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # Third-party loggers: their debug output can include request options; keep them quiet.
    for name in ("openai", "httpx", "httpx2", "httpcore", "botocore", "boto3", "urllib3", "aiohttp"):
        logging.getLogger(name).setLevel(max(logging.WARNING, root.level))
    for name in ("uvicorn", "uvicorn.error", "gunicorn.error"):
        lg = logging.getLogger(name)
        lg.handlers[:] = []
        lg.propagate = True
    # We write one access line per request ourselves (service.middleware); uvicorn's would double it.
    logging.getLogger("uvicorn.access").disabled = True
