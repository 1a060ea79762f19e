"""Builds the shared-state backend from settings and applies the failure policy when it is down."""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass, field
from typing import Literal

import structlog

from service.state.deferred import DeferredWrites
from service.state.errors import StateRefused, StateUnavailable
from service.state.health import BackendHealth
from service.state.memory_store import MemoryStore
from service.state.plans import Writes
from service.state.redis_store import RedisStore, build_redis_client
from service.state.store import Store

log = structlog.get_logger(__name__)

FailurePolicy = Literal["open", "closed"]
_FAIL_OPEN_LOG_INTERVAL_SECONDS = 10.0


@dataclass(frozen=True)
class StateConfig:
    """What the backend needs from `Settings` (kept separate so the library has no settings import)."""

    redis_url: str | None
    redis_auth_token: str | None = None
    key_prefix: str = "oai:"
    socket_timeout_seconds: float = 0.25
    connect_timeout_seconds: float = 0.5
    max_connections: int = 100  # per process
    pool_timeout_seconds: float = 2.0  # longest wait for a free connection
    probe_interval_seconds: float = 1.0
    failure_policy: FailurePolicy = "open"


@dataclass
class SharedState:
    """The store plus what to do when it is unavailable. One per process, built in the lifespan."""

    store: Store
    failure_policy: FailurePolicy = "open"
    deferred: DeferredWrites = field(init=False)  # usage and spend that could not be written yet
    _last_fail_open_log: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.deferred = DeferredWrites(self.store)

    @property
    def health(self) -> BackendHealth:
        return self.store.health

    def on_unavailable(self, component: str, error: StateUnavailable) -> None:
        """Limits and budgets call this when Redis is down: raise `StateRefused`, or allow and log."""
        if self.failure_policy == "closed":
            raise StateRefused(component) from error
        now = time.monotonic()
        if now - self._last_fail_open_log.get(component, 0.0) >= _FAIL_OPEN_LOG_INTERVAL_SECONDS:
            self._last_fail_open_log[component] = now
            log.error(
                "state_fail_open",
                component=component,
                error=str(error),
                detail=f"{component} not enforced while Redis is unavailable (STATE_FAILURE_POLICY=open)",
            )

    async def settle(self, writes: Writes) -> bool:
        """Make `writes` in one step; False if the backend did not take them.

        Then the counters (spend, usage, clients seen) are kept and written later (service.state.deferred),
        never dropped; the rest is let go: a window reconciliation only moves a one-minute estimate, a cache
        lock expires on its own, an unwritten cache entry or pause costs an upstream call or a 429.
        """
        if not writes:
            return True
        try:
            await self.store.settle(writes)
        except StateUnavailable:
            self.deferred.add(writes)
            return False
        return True

    async def readiness(self) -> dict[str, object]:
        """For /readyz: pings the backend (a cheap probe that also drives recovery) and reports."""
        with contextlib.suppress(StateUnavailable):
            await self.store.ping()
        report = self.health.snapshot()
        report["kind"] = self.store.kind
        report["failure_policy"] = self.failure_policy
        report["degraded"] = not self.health.healthy
        return report

    async def aclose(self) -> None:
        await self.deferred.aclose()
        await self.store.aclose()


def build_shared_state(config: StateConfig) -> SharedState:
    store: Store
    if config.redis_url:
        client = build_redis_client(
            config.redis_url,
            auth_token=config.redis_auth_token,
            socket_timeout_seconds=config.socket_timeout_seconds,
            connect_timeout_seconds=config.connect_timeout_seconds,
            max_connections=config.max_connections,
            pool_timeout_seconds=config.pool_timeout_seconds,
        )
        health = BackendHealth("redis", probe_interval_seconds=config.probe_interval_seconds)
        store = RedisStore(client, key_prefix=config.key_prefix, health=health)
    else:
        log.info("state_backend_in_process", detail="no REDIS_URL: cache, limits and budgets are per process")
        store = MemoryStore()
    return SharedState(store=store, failure_policy=config.failure_policy)
