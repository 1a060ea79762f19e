"""The operations the cache, limits, budgets and usage need from shared state, backend-agnostic.

Two implementations: `RedisStore` (the fleet shares it; every worker and container sees the same
numbers) and `MemoryStore` (one process; used when there is no REDIS_URL). Components are written
once against this protocol, so the local run exercises the same code paths as production.
Every method raises `StateUnavailable` when the backend does not answer.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol, TypeVar

from limits.aio.storage import Storage

from service.state.health import BackendHealth

T = TypeVar("T")


@dataclass(frozen=True)
class Bucket:
    """One integer counter that must stay at or below `limit` (None: counted, never refused)."""

    key: str
    limit: int | None
    ttl_seconds: int


@dataclass(frozen=True)
class ReserveResult:
    accepted: bool
    values: tuple[int, ...]  # every bucket's value after the call (unchanged when refused)
    refused_index: int | None = None  # the first bucket that would have gone over its limit


@dataclass(frozen=True)
class HashIncrement:
    key: str
    fields: Mapping[str, int]
    ttl_seconds: int


class Store(Protocol):
    health: BackendHealth

    @property
    def kind(self) -> Literal["redis", "memory"]: ...

    async def guard(self, operation: Callable[[], Awaitable[T]]) -> T:
        """Run an operation on this backend (e.g. a `limits` call) under its health tracking."""
        ...

    async def ping(self) -> None: ...

    async def get(self, key: str) -> bytes | None: ...

    async def put(self, key: str, value: bytes, *, ttl_seconds: float, only_if_absent: bool = False) -> bool:
        """Store `value`; with `only_if_absent`, only when the key is missing (returns whether it was set)."""
        ...

    async def delete_if_equals(self, key: str, expected: bytes) -> bool:
        """Delete `key` only while it still holds `expected` (releasing a lock we own)."""
        ...

    async def incr(self, key: str) -> int: ...

    async def reserve(self, buckets: Sequence[Bucket], amount: int) -> ReserveResult:
        """Atomically add `amount` to every bucket, or to none if any would exceed its limit."""
        ...

    async def adjust(self, buckets: Sequence[Bucket], delta: int) -> None:
        """Add `delta` (may be negative) to every bucket, without limits."""
        ...

    async def read_ints(self, keys: Sequence[str]) -> list[int]: ...

    async def hincr(self, increments: Sequence[HashIncrement]) -> None: ...

    async def hgetall(self, keys: Sequence[str]) -> list[dict[str, int]]: ...

    async def add_member(self, key: str, member: str, ttl_seconds: int) -> None: ...

    async def members(self, key: str) -> set[str]: ...

    def limits_storage(self) -> Storage:
        """A `limits.aio` storage on the same backend (for the rate limiters)."""
        ...

    async def aclose(self) -> None: ...
