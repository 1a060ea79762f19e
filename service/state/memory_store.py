"""`Store` in this process only: the backend when there is no REDIS_URL (local runs, single worker).

Every method finishes without awaiting, so each one is atomic on the event loop, which is what the
Redis Lua scripts give across processes. `admit` and `settle` follow those scripts (service.state.scripts)
step for step, so a local run exercises the same logic as production.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Sequence
from typing import Literal

from service.state.health import BackendHealth
from service.state.plans import AdmitPlan, AdmitResult, Bucket, HashIncrement, Outcome, Writes
from service.state.windows import WINDOW_MS, WindowState, WindowTake, clock, counts_at


class MemoryStore:
    kind: Literal["redis", "memory"] = "memory"

    def __init__(self, *, max_keys: int = 50_000) -> None:
        self.health = BackendHealth("memory")
        self._max_keys = max_keys
        self._data: OrderedDict[str, tuple[float, object]] = OrderedDict()  # key -> (expires_at, value)

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

    async def get_many(self, keys: Sequence[str]) -> list[bytes | None]:
        return [await self.get(key) for key in keys]

    def _window(self, key: str, minute: int) -> tuple[int, int]:
        stored = self._live(key)
        return counts_at(stored if isinstance(stored, tuple) else None, minute)

    def _write_window(self, key: str, minute: int, previous: int, current: int) -> None:
        self._put(key, (minute, current, previous), 2 * WINDOW_MS / 1000)

    async def admit(self, plan: AdmitPlan) -> AdmitResult:
        now_ms = int(time.time() * 1000)
        minute, left_ms = clock(now_ms)
        claim, cache_key, lock_key = plan.cache, None, None
        if claim is not None:
            version = str(self._int(claim.namespace_key))
            cache_key = claim.entry_key(version)
            if claim.lead:
                lock_key = claim.lock_key(version)
                body = await self.get(cache_key)
                if body is not None:
                    return AdmitResult(Outcome.CACHE_HIT, cache_key=cache_key, lock_key=lock_key, body=body)
                if self._live(lock_key) is not None:
                    return AdmitResult(Outcome.CACHE_BUSY, cache_key=cache_key, lock_key=lock_key)
        counts = [self._window(w.key, minute) for w in plan.windows]
        found = tuple(WindowState(previous, current, left_ms) for previous, current in counts)

        def full(index: int, window: WindowTake) -> bool:
            return window.cost != 0 and not found[index].fits(window.cost, window.limit)

        def refused(outcome: Outcome, index: int | None = None, wait_ms: int = 0) -> AdmitResult:
            return AdmitResult(outcome, index, wait_ms / 1000, cache_key, lock_key, windows=found)

        for index, window in enumerate(plan.client_windows):
            if full(index, window):
                return refused(Outcome.WINDOW_FULL, index)
        values = [self._int(b.key) for b in plan.buckets]
        for index, (bucket, value) in enumerate(zip(plan.buckets, values, strict=True)):
            if bucket.limit is not None and value + plan.amount > bucket.limit:
                return refused(Outcome.OVER_BUDGET, index)
        if plan.pause_key is not None:
            paused_until = self._int(plan.pause_key)
            if paused_until > now_ms:
                return refused(Outcome.PAUSED, wait_ms=paused_until - now_ms)
        for index, window in enumerate(plan.fleet_windows, start=len(plan.client_windows)):
            if full(index, window):
                return refused(Outcome.WINDOW_FULL, index)

        taken = []
        for window, (previous, current) in zip(plan.windows, counts, strict=True):
            after = current + window.cost
            if window.cost != 0:
                self._write_window(window.key, minute, previous, after)
            taken.append(WindowState(previous, after, left_ms))
        for bucket, value in zip(plan.buckets, values, strict=True):
            self._put(bucket.key, value + plan.amount, bucket.ttl_seconds)
        if lock_key is not None and claim is not None:
            self._put(lock_key, claim.token, claim.lock_ms / 1000)
        return AdmitResult(
            Outcome.ADMITTED,
            cache_key=cache_key,
            lock_key=lock_key,
            windows=tuple(taken),
            values=tuple(v + plan.amount for v in values),
        )

    async def settle(self, writes: Writes) -> None:
        now_ms = int(time.time() * 1000)
        minute, left_ms = clock(now_ms)
        for window in writes.windows:
            previous, current = self._window(window.key, minute)
            if WindowState(previous, current, left_ms).fits(window.cost, window.limit):
                self._write_window(window.key, minute, previous, current + window.cost)
        for bucket, delta in writes.counters:
            self._put(bucket.key, self._int(bucket.key) + delta, bucket.ttl_seconds)
        await self.hincr(writes.increments)
        for member in writes.members:
            await self.add_member(member.key, member.member, member.ttl_seconds)
        for put in writes.puts:
            self._put(put.key, put.value, put.ttl_ms / 1000)
        for release in writes.releases:
            await self.delete_if_equals(release.key, release.token)
        if writes.pause is not None and now_ms + writes.pause.ms > self._int(writes.pause.key):
            self._put(writes.pause.key, now_ms + writes.pause.ms, writes.pause.ms / 1000)  # a pause only grows

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

    async def aclose(self) -> None:
        self._data.clear()
