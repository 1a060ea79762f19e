"""Counter writes that could not be made now (Redis busy or down), kept and retried until they are.

Usage and spend are additive counters, so a write that failed can be merged with the ones after it and
written later as one sum: memory grows with the number of distinct counters (clients x periods), not with
the number of requests. A background task retries every `retry_seconds` while anything is pending; the
process writes what is left once more when it stops. Only a process killed while Redis is unreachable
loses what it held (and says so in its log).

Writes are at least once: one whose reply timed out may have reached Redis before it is written again,
as with redis-py's own retry. Pool exhaustion and a Redis that refuses connections, the usual causes,
send nothing, so nothing is counted twice for them.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from collections.abc import Awaitable
from dataclasses import dataclass, field

import structlog

from service.state.errors import StateUnavailable
from service.state.plans import Bucket, HashIncrement, Writes
from service.state.store import Store

log = structlog.get_logger(__name__)


@dataclass
class _Pending:
    hashes: dict[str, tuple[Counter[str], int]] = field(default_factory=dict)  # key -> (field deltas, ttl)
    counters: dict[str, tuple[int, int]] = field(default_factory=dict)  # key -> (delta, ttl)
    members: dict[str, tuple[set[str], int]] = field(default_factory=dict)  # key -> (members, ttl)

    def __len__(self) -> int:
        return len(self.hashes) + len(self.counters) + len(self.members)

    def merge(self, other: _Pending) -> None:
        for key, (fields, ttl) in other.hashes.items():
            mine, old_ttl = self.hashes.get(key, (Counter(), 0))
            mine.update(fields)
            self.hashes[key] = (mine, max(ttl, old_ttl))
        for key, (delta, ttl) in other.counters.items():
            old_delta, old_ttl = self.counters.get(key, (0, 0))
            self.counters[key] = (old_delta + delta, max(ttl, old_ttl))
        for key, (members, ttl) in other.members.items():
            mine_members, old_ttl = self.members.get(key, (set(), 0))
            self.members[key] = (mine_members | members, max(ttl, old_ttl))


class DeferredWrites:
    def __init__(self, store: Store, *, retry_seconds: float = 0.5) -> None:
        self._store = store
        self._retry_seconds = retry_seconds
        self._pending = _Pending()
        self._writing = _Pending()  # taken out of `_pending` by the flush under way
        self._task: asyncio.Task[None] | None = None

    @property
    def pending(self) -> int:
        """Distinct counters waiting to be written (or being written now)."""
        return len(self._pending) + len(self._writing)

    def add(self, writes: Writes) -> None:
        """The counters of a settle that could not be made: spend deltas, usage increments, clients seen."""
        batch = _Pending()
        for bucket, delta in writes.counters:
            batch.merge(_Pending(counters={bucket.key: (delta, bucket.ttl_seconds)}))
        for inc in writes.increments:
            batch.merge(_Pending(hashes={inc.key: (Counter(inc.fields), inc.ttl_seconds)}))
        for member in writes.members:
            batch.merge(_Pending(members={member.key: ({member.member}, member.ttl_seconds)}))
        if batch:
            self._add(batch)

    def _add(self, batch: _Pending) -> None:
        if not self._pending:
            log.warning("state_writes_deferred", detail="usage/spend kept in memory until Redis takes them")
        self._pending.merge(batch)
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._retry_until_written())

    async def _retry_until_written(self) -> None:
        while self._pending:
            await asyncio.sleep(self._retry_seconds)
            await self.flush()

    async def flush(self) -> bool:
        """Write everything pending; True when nothing is left. What fails (or is cut short) stays pending."""
        batch, self._pending = self._pending, _Pending()
        self._writing, taken = batch, len(batch)
        try:
            await self._write(batch)
        finally:
            self._writing = _Pending()
            self._pending.merge(batch)  # what is left of it: failed, or not reached
        if taken and not self._pending:
            log.info("state_writes_flushed", counters=taken)
        return not self._pending

    async def _write(self, batch: _Pending) -> None:
        """Write `batch`, removing from it each part as soon as Redis has taken it."""
        if batch.hashes:
            increments = [HashIncrement(k, dict(fields), ttl) for k, (fields, ttl) in batch.hashes.items()]
            if await self._try(self._store.hincr(increments)):
                batch.hashes = {}
        for key, (delta, ttl) in list(batch.counters.items()):
            if not delta or await self._try(self._store.adjust([Bucket(key, None, ttl)], delta)):
                del batch.counters[key]
        for key, (members, ttl) in list(batch.members.items()):
            if all([await self._try(self._store.add_member(key, member, ttl)) for member in members]):
                del batch.members[key]  # a member added twice is harmless

    @staticmethod
    async def _try(write: Awaitable[None]) -> bool:
        try:
            await write
        except StateUnavailable:
            return False
        return True

    async def aclose(self) -> None:
        """Stop retrying; one last attempt, and a log line naming what could not be written."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._pending and not await self.flush():
            log.error(
                "state_writes_lost",
                counters=sorted([*self._pending.hashes, *self._pending.counters]),
                detail="Redis did not take these usage/spend counters before the process stopped",
            )
