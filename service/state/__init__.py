"""Shared state for the cache, rate limits, budgets and usage: Redis, or in-process without REDIS_URL."""

from service.state.backend import FailurePolicy, SharedState, StateConfig, build_shared_state
from service.state.deferred import DeferredWrites
from service.state.errors import StateBusy, StateRefused, StateUnavailable
from service.state.health import BackendHealth
from service.state.memory_store import MemoryStore
from service.state.redis_store import RedisStore, build_redis_client
from service.state.store import Bucket, HashIncrement, ReserveResult, Store

__all__ = [
    "BackendHealth",
    "Bucket",
    "DeferredWrites",
    "FailurePolicy",
    "HashIncrement",
    "MemoryStore",
    "RedisStore",
    "ReserveResult",
    "SharedState",
    "StateBusy",
    "StateConfig",
    "StateRefused",
    "StateUnavailable",
    "Store",
    "build_redis_client",
    "build_shared_state",
]
