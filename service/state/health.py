"""Tracks whether Redis answers, and stops hammering it while it does not.

After a failure the backend is marked degraded and every call fails fast (no connect timeout per
request) until `probe_interval_seconds` has passed; then one call is let through as a probe. The
first success marks it healthy again, so a Redis that comes back is used without a restart.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import structlog

log = structlog.get_logger(__name__)
_BUSY_LOG_INTERVAL_SECONDS = 10.0


@dataclass
class BackendHealth:
    name: str = "redis"
    probe_interval_seconds: float = 1.0
    healthy: bool = True
    last_error: str | None = None
    degraded_since: float | None = None  # wall-clock seconds, for /readyz
    busy_count: int = 0  # calls that found no free pooled connection in time (not failures of Redis)
    _next_probe_at: float = field(default=0.0, repr=False)
    _last_busy_log: float = field(default=float("-inf"), repr=False)

    def allow(self) -> bool:
        """True if a call may go to the backend now (always when healthy; one probe per interval when not)."""
        if self.healthy:
            return True
        now = time.monotonic()
        if now >= self._next_probe_at:
            self._next_probe_at = now + self.probe_interval_seconds
            return True
        return False

    def record_success(self) -> None:
        if not self.healthy:
            log.warning(
                "state_backend_recovered",
                backend=self.name,
                degraded_seconds=round(time.time() - (self.degraded_since or time.time()), 3),
            )
        self.healthy = True
        self.last_error = None
        self.degraded_since = None

    def record_failure(self, error: BaseException) -> None:
        self.last_error = f"{type(error).__name__}: {error}"
        self._next_probe_at = time.monotonic() + self.probe_interval_seconds
        if self.healthy:
            self.healthy = False
            self.degraded_since = time.time()
            log.error("state_backend_unavailable", backend=self.name, error=self.last_error)

    def record_busy(self) -> None:
        """The pool had no free connection in time: load, not an outage (logged at most every few seconds)."""
        now = time.monotonic()
        self.busy_count += 1
        if now - self._last_busy_log >= _BUSY_LOG_INTERVAL_SECONDS:
            self._last_busy_log = now
            log.warning("state_pool_exhausted", backend=self.name, calls_so_far=self.busy_count)

    def snapshot(self) -> dict[str, object]:
        return {"backend": self.name, "healthy": self.healthy, "error": self.last_error}
