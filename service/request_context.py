"""The request being served, for code that has no `Request`: the upstream client, metering, error bodies.

`service.middleware` opens one per request and writes its fields on the request's log line and metrics.
Tasks started during the request copy the context and so share the fields, but a write after the
response has ended lands in a line already written: annotate before the end.
"""

from __future__ import annotations

import time
from contextvars import ContextVar, Token
from dataclasses import dataclass, field
from typing import Any


@dataclass
class CurrentRequest:
    start: float = field(default_factory=time.perf_counter)
    fields: dict[str, Any] = field(default_factory=dict)


_current: ContextVar[CurrentRequest | None] = ContextVar("service_current_request", default=None)


def open_request() -> tuple[CurrentRequest, Token[CurrentRequest | None]]:
    current = CurrentRequest()
    return current, _current.set(current)


def close_request(token: Token[CurrentRequest | None]) -> None:
    _current.reset(token)


def annotate_current(**fields: Any) -> None:
    """Add fields to the current request's log line; a no-op outside a request."""
    current = _current.get()
    if current is not None:
        current.fields.update(fields)


def add_to_current(name: str, amount: int) -> None:
    """Add to a counting field of the current request's line (upstream retries over several calls)."""
    current = _current.get()
    if current is not None:
        current.fields[name] = int(current.fields.get(name) or 0) + amount


def mark_first_token() -> None:
    """Record time to first token on the current request, once: the first content event relayed."""
    current = _current.get()
    if current is not None and "ttft_ms" not in current.fields:
        current.fields["ttft_ms"] = round((time.perf_counter() - current.start) * 1000, 2)
