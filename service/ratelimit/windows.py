"""The per-minute requests and tokens windows of one client or of the fleet, and how each is reported.

Each window is a sliding-window counter in the shared state (service.state.windows), so checking and
taking every window a request touches is part of the one step before its upstream call.
"""

from __future__ import annotations

from dataclasses import dataclass

from service.ratelimit.headers import WindowReport
from service.state import WindowState, WindowTake


@dataclass(frozen=True)
class Window:
    kind: str  # "requests" | "tokens"
    limit: int
    key: str

    @classmethod
    def per_minute(cls, kind: str, limit: int, *, namespace: str, identity: str) -> Window:
        return cls(kind, limit, f"ratelimit:{namespace}:{identity}:{kind}")

    def take(self, cost: int) -> WindowTake:
        return WindowTake(self.key, self.limit, cost)

    def report(self, state: WindowState) -> WindowReport:
        return WindowReport(
            kind=self.kind,
            limit=self.limit,
            remaining=state.remaining(self.limit),
            reset_seconds=state.reset_seconds(),
        )


def windows_of(
    requests_per_minute: int | None, tokens_per_minute: int | None, *, namespace: str, identity: str
) -> tuple[Window, ...]:
    """The windows that are limited, requests first (the order checks and reports follow)."""
    limits = (("requests", requests_per_minute), ("tokens", tokens_per_minute))
    return tuple(
        Window.per_minute(kind, limit, namespace=namespace, identity=identity) for kind, limit in limits if limit
    )


def takes_of(windows: tuple[Window, ...], tokens: int) -> tuple[WindowTake, ...]:
    """One request and `tokens` tokens."""
    return tuple(window.take(1 if window.kind == "requests" else tokens) for window in windows)
