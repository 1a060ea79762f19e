"""`Store` in this process only: the backend when there is no REDIS_URL (local runs, single worker).

Every method finishes without awaiting, so each one is atomic on the event loop, which is what the
Redis Lua scripts give across processes.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from typing import Literal, TypeVar

from limits.aio.storage import MemoryStorage, Storage

from service.state.health import BackendHealth
from service.state.store import Bucket, HashIncrement, ReserveResult

T = TypeVar("T")


class MemoryStore:
    kind: Literal["redis", "memory"] = "memory"

    def __init__(self, *, max_keys: int = 50_000) -> None:
        self.health = BackendHealth("memory")
        self._max_keys = max_keys
        self._data: OrderedDict[str, tuple[float, object]] = OrderedDict()  # key -> (expires_at, value)
        self._limits: Storage | None = None

    def _live(self, key: str) -> object | None:
        entry = self._data.get(key)
        if entry is None:
            return None
        if entry[0] <= time.monotonic():
            del self._data[key]
            return None
        self._data.move_to_end(key)
        return entry[1]

    def _put(self, key: str, value: object, ttl_seconds: float) -> None:
        self._data[key] = (time.monotonic() + ttl_seconds, value)
        self._data.move_to_end(key)
        while len(self._data) > self._max_keys:  # least recently used first
            self._data.popitem(last=False)

    def _ttl(self, key: str) -> float:
        entry = self._data.get(key)
        return max(0.001, entry[0] - time.monotonic()) if entry else 0.0

    async def guard(self, operation: Callable[[], Awaitable[T]]) -> T:
        return await operation()

    async def ping(self) -> None:
        return None

    async def get(self, key: str) -> bytes | None:
        value = self._live(key)
        return value if isinstance(value, bytes) else None

    async def put(self, key: str, value: bytes, *, ttl_seconds: float, only_if_absent: bool = False) -> bool:
        if only_if_absent and self._live(key) is not None:
            return False
        self._put(key, value, ttl_seconds)
        return True

    async def delete_if_equals(self, key: str, expected: bytes) -> bool:
        if self._live(key) == expected:
            del self._data[key]
            return True
        return False

    async def incr(self, key: str) -> int:
        value = self._int(key) + 1
        self._put(key, value, self._ttl(key) or 10 * 365 * 86400)
        return value

    def _int(self, key: str) -> int:
        value = self._live(key)
        return value if isinstance(value, int) else 0

    async def reserve(self, buckets: Sequence[Bucket], amount: int) -> ReserveResult:
        values = [self._int(b.key) for b in buckets]
        for index, (bucket, value) in enumerate(zip(buckets, values, strict=True)):
            if bucket.limit is not None and value + amount > bucket.limit:
                return ReserveResult(False, tuple(values), index)
        for bucket, value in zip(buckets, values, strict=True):
            self._put(bucket.key, value + amount, bucket.ttl_seconds)
        return ReserveResult(True, tuple(v + amount for v in values))

    async def adjust(self, buckets: Sequence[Bucket], delta: int) -> None:
        for bucket in buckets:
            self._put(bucket.key, self._int(bucket.key) + delta, bucket.ttl_seconds)

    async def read_ints(self, keys: Sequence[str]) -> list[int]:
        return [self._int(k) for k in keys]

    async def hincr(self, increments: Sequence[HashIncrement]) -> None:
        for inc in increments:
            current = self._live(inc.key)
            row: dict[str, int] = dict(current) if isinstance(current, dict) else {}
            for name, amount in inc.fields.items():
                row[name] = row.get(name, 0) + amount
            self._put(inc.key, row, inc.ttl_seconds)

    async def hgetall(self, keys: Sequence[str]) -> list[dict[str, int]]:
        rows = []
        for key in keys:
            value = self._live(key)
            rows.append(dict(value) if isinstance(value, dict) else {})
        return rows

    async def add_member(self, key: str, member: str, ttl_seconds: int) -> None:
        current = self._live(key)
        members: set[str] = set(current) if isinstance(current, set) else set()
        members.add(member)
        self._put(key, members, ttl_seconds)

    async def members(self, key: str) -> set[str]:
        value = self._live(key)
        return set(value) if isinstance(value, set) else set()

    def limits_storage(self) -> Storage:
        if self._limits is None:
            self._limits = MemoryStorage()
        return self._limits

    async def aclose(self) -> None:
        self._data.clear()
