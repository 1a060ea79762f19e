"""Shared state for the cache, rate limits, budgets and usage: Redis, or in-process without REDIS_URL."""

from service.state.backend import FailurePolicy, SharedState, StateConfig, build_shared_state
from service.state.deferred import DeferredWrites
from service.state.errors import StateBusy, StateRefused, StateUnavailable
from service.state.health import BackendHealth
from service.state.memory_store import MemoryStore
from service.state.plans import (
    AdmitPlan,
    AdmitResult,
    Bucket,
    CacheClaim,
    HashIncrement,
    Outcome,
    Pause,
    Put,
    Release,
    SetMember,
    Writes,
)
from service.state.redis_store import RedisStore, build_redis_client
from service.state.store import Store
from service.state.windows import WindowState, WindowTake

__all__ = [
    "AdmitPlan",
    "AdmitResult",
    "BackendHealth",
    "Bucket",
    "CacheClaim",
    "DeferredWrites",
    "FailurePolicy",
    "HashIncrement",
    "MemoryStore",
    "Outcome",
    "Pause",
    "Put",
    "RedisStore",
    "Release",
    "SetMember",
    "SharedState",
    "StateBusy",
    "StateConfig",
    "StateRefused",
    "StateUnavailable",
    "Store",
    "WindowState",
    "WindowTake",
    "Writes",
    "build_redis_client",
    "build_shared_state",
]
