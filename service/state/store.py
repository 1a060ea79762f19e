"""The operations the cache, limits, budgets and usage need from shared state, backend-agnostic.

Two implementations: `RedisStore` (the fleet shares it; every worker and container sees the same
numbers) and `MemoryStore` (one process; used when there is no REDIS_URL). Components are written
once against this protocol, so the local run exercises the same code paths as production.
Every method raises `StateUnavailable` when the backend does not answer.

The hot path uses two of them per upstream call: `admit` before it and `settle` after it, one round
trip each (service.state.plans says what they do, service.state.scripts why they are scripts).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal, Protocol

from service.state.health import BackendHealth
from service.state.plans import AdmitPlan, AdmitResult, Bucket, HashIncrement, Writes


class Store(Protocol):
    health: BackendHealth

    @property
    def kind(self) -> Literal["redis", "memory"]: ...

    async def ping(self) -> None: ...

    async def get(self, key: str) -> bytes | None: ...

    async def get_many(self, keys: Sequence[str]) -> list[bytes | None]:
        """Several values read at one instant."""
        ...

    async def put(self, key: str, value: bytes, *, ttl_seconds: float, only_if_absent: bool = False) -> bool:
        """Store `value`; with `only_if_absent`, only when the key is missing (returns whether it was set)."""
        ...

    async def delete_if_equals(self, key: str, expected: bytes) -> bool:
        """Delete `key` only while it still holds `expected` (releasing a lock we own)."""
        ...

    async def incr(self, key: str) -> int: ...

    async def admit(self, plan: AdmitPlan) -> AdmitResult:
        """Everything before an upstream call, all or nothing, in one step."""
        ...

    async def settle(self, writes: Writes) -> None:
        """Everything after an upstream call, in one step."""
        ...

    async def adjust(self, buckets: Sequence[Bucket], delta: int) -> None:
        """Add `delta` (may be negative) to every bucket, without limits."""
        ...

    async def read_ints(self, keys: Sequence[str]) -> list[int]: ...

    async def hincr(self, increments: Sequence[HashIncrement]) -> None: ...

    async def hgetall(self, keys: Sequence[str]) -> list[dict[str, int]]: ...

    async def add_member(self, key: str, member: str, ttl_seconds: int) -> None: ...

    async def members(self, key: str) -> set[str]: ...

    async def aclose(self) -> None: ...
