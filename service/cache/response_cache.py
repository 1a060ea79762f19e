"""The exact-match response cache, with namespace invalidation and single flight.

Entries live under the current namespace version (`cache:<ns>:<digest>`); bumping the version
(the admin endpoint) makes every older entry unreachable in one step, and the TTL removes them.

Single flight: of N concurrent identical misses, one fills the entry (it holds a short Redis lock,
SET NX with an expiry, so a crashed leader cannot block anyone for long) and the rest wait, bounded,
to be served from it. Within one process the waiters share an asyncio future, so only one of them
polls Redis for another process's answer; past the bound a waiter calls upstream itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import time
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Literal

import orjson
import structlog

from service.cache.keys import CacheMode, request_digest
from service.cache.replay import is_complete
from service.state import SharedState, StateUnavailable

log = structlog.get_logger(__name__)

_NAMESPACE_KEY = "cache:namespace"
_POLL_FIRST_SECONDS = 0.01
_POLL_MAX_SECONDS = 0.1

CacheScope = Literal["client", "shared"]


class CacheStatus(StrEnum):
    HIT = "HIT"
    MISS = "MISS"
    BYPASS = "BYPASS"


@dataclass
class CacheLookup:
    """What the cache said; on a MISS, fill it with `ResponseCache.fill` or let it go with `abandon`."""

    status: CacheStatus
    body: bytes | None = None  # the stored `chat.completion` JSON, on a HIT
    key: str | None = None
    _lock: tuple[str, bytes] | None = field(default=None, repr=False)  # (lock key, our token) when leading
    _local: asyncio.Future[bytes | None] | None = field(default=None, repr=False)
    finished: bool = False

    @property
    def completion(self) -> dict[str, Any]:
        assert self.body is not None, "completion is only available on a HIT"  # noqa: S101 - programming error
        data: dict[str, Any] = orjson.loads(self.body)
        return data


class ResponseCache:
    def __init__(
        self,
        state: SharedState,
        *,
        ttl_seconds: float,
        lock_seconds: float,
        wait_seconds: float,
        scope: CacheScope = "client",
    ) -> None:
        self._state = state
        self._store = state.store
        self._ttl = ttl_seconds
        self._lock_seconds = lock_seconds
        self._wait_seconds = wait_seconds
        self._scope = scope
        self._inflight: dict[str, asyncio.Future[bytes | None]] = {}

    async def namespace(self) -> int:
        raw = await self._store.get(_NAMESPACE_KEY)
        return int(raw) if raw else 0

    async def bump_namespace(self) -> int:
        """Invalidate every entry at once (e.g. after new information is added). Returns the new version."""
        version = await self._store.incr(_NAMESPACE_KEY)
        log.info("cache_namespace_bumped", version=version)
        return version

    async def lookup(self, mode: CacheMode, body: dict[str, Any], client_id: str) -> CacheLookup:
        if mode is CacheMode.BYPASS:
            return CacheLookup(CacheStatus.BYPASS)
        try:
            digest = request_digest(body, client_id if self._scope == "client" else "shared")
            key = f"cache:{await self.namespace()}:{digest}"
            if mode is CacheMode.REFRESH:
                return CacheLookup(CacheStatus.MISS, key=key)
            return await self._single_flight(key)
        except StateUnavailable:
            return CacheLookup(CacheStatus.BYPASS)  # the health tracker has logged the outage

    async def _single_flight(self, key: str) -> CacheLookup:
        deadline = time.monotonic() + self._wait_seconds
        while True:
            body = await self._store.get(key)
            if body is not None:
                return CacheLookup(CacheStatus.HIT, body, key)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return CacheLookup(CacheStatus.MISS, key=key)  # waited long enough: call upstream ourselves
            waiting_on = self._inflight.get(key)
            if waiting_on is not None:  # someone in this process leads or polls: share its answer
                try:
                    body = await asyncio.wait_for(asyncio.shield(waiting_on), remaining)
                except TimeoutError:
                    return CacheLookup(CacheStatus.MISS, key=key)
                if body is not None:
                    return CacheLookup(CacheStatus.HIT, body, key)
                continue  # it ended without an answer: look again, perhaps lead
            local: asyncio.Future[bytes | None] = asyncio.get_running_loop().create_future()
            self._inflight[key] = local
            lock_key, token = f"cache-lock:{key}", secrets.token_hex(16).encode()
            try:
                leads = await self._store.put(lock_key, token, ttl_seconds=self._lock_seconds, only_if_absent=True)
            except StateUnavailable:
                self._settle_local(key, local, None)
                raise
            if leads:
                return CacheLookup(CacheStatus.MISS, key=key, _lock=(lock_key, token), _local=local)
            body = None
            try:
                body = await self._poll(key, lock_key, deadline)
            finally:
                self._settle_local(key, local, body)
            if body is not None:
                return CacheLookup(CacheStatus.HIT, body, key)

    async def _poll(self, key: str, lock_key: str, deadline: float) -> bytes | None:
        """Wait for another process's answer; None when its lock goes without one, or at the deadline."""
        interval = _POLL_FIRST_SECONDS
        while time.monotonic() < deadline:
            await asyncio.sleep(min(interval, max(0.0, deadline - time.monotonic())))
            body = await self._store.get(key)
            if body is not None:
                return body
            if await self._store.get(lock_key) is None:
                return await self._store.get(key)  # it may have been written just before the release
            interval = min(interval * 2, _POLL_MAX_SECONDS)
        return None

    def _settle_local(self, key: str, local: asyncio.Future[bytes | None], body: bytes | None) -> None:
        if self._inflight.get(key) is local:
            del self._inflight[key]
        if not local.done():
            local.set_result(body)

    async def fill(self, lookup: CacheLookup, completion: dict[str, Any] | bytes) -> bool:
        """Store a finished answer for a MISS and wake its waiters. False if it was not storable."""
        if lookup.status is not CacheStatus.MISS or lookup.key is None or lookup.finished:
            return False
        data = orjson.loads(completion) if isinstance(completion, bytes) else completion
        if not is_complete(data):
            await self.abandon(lookup)
            return False
        body: bytes | None = completion if isinstance(completion, bytes) else orjson.dumps(completion)
        try:
            await self._store.put(lookup.key, body or b"", ttl_seconds=self._ttl)
        except StateUnavailable:
            body = None
        await self._finish(lookup, body)
        return body is not None

    async def abandon(self, lookup: CacheLookup) -> None:
        """No answer to store (upstream failed, or the stream broke): let the waiters go."""
        await self._finish(lookup, None)

    async def _finish(self, lookup: CacheLookup, body: bytes | None) -> None:
        if lookup.finished:
            return
        lookup.finished = True
        if lookup._local is not None and lookup.key is not None:
            self._settle_local(lookup.key, lookup._local, body)
        if lookup._lock is not None:
            lock_key, token = lookup._lock
            with contextlib.suppress(StateUnavailable):  # if so, it expires on its own
                await self._store.delete_if_equals(lock_key, token)
