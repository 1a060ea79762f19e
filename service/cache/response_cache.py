"""The exact-match response cache, with namespace invalidation and single flight.

Entries live under the current namespace version (`cache:<ns>:<digest>`); bumping the version
(the admin endpoint) makes every older entry unreachable in one step, and the TTL removes them.

Single flight: of N concurrent identical misses, one fills the entry (it holds a short Redis lock with
an expiry, so a crashed leader cannot block anyone for long) and the rest wait, bounded, to be served
from it. Within one process the waiters share an asyncio future, so only one of them polls Redis for
another process's answer; past the bound a waiter calls upstream itself.

The lookup is not a call of its own: `resolve` hands a `CacheClaim` (read the namespace, then the entry,
and on a miss take the lock) to the step that also takes the rate limits and the budget before the
upstream call (service.api.ledger), and `closing_writes` puts the fill and the lock's release into the
step after it. `lookup`, `fill` and `abandon` do the same on their own.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Literal

import orjson
import structlog

from service.cache.keys import CHAT_COMPLETIONS, CacheMode, request_digest
from service.cache.replay import is_complete
from service.state import (
    AdmitPlan,
    AdmitResult,
    CacheClaim,
    Outcome,
    Put,
    Release,
    SharedState,
    StateUnavailable,
    Writes,
)
from service.state.plans import ceil_ms

log = structlog.get_logger(__name__)

NAMESPACE_KEY = "cache:namespace"  # also read by the embeddings cache (service.cache.embeddings)
_ENTRY_HEAD = "cache:"
_LOCK_HEAD = "cache-lock:cache:"  # the lock of `cache:<ns>:<digest>` is `cache-lock:cache:<ns>:<digest>`
_POLL_FIRST_SECONDS = 0.01
_POLL_MAX_SECONDS = 0.1

CacheScope = Literal["client", "shared"]
# Runs the step before the upstream call with this claim (None: without the cache); returns it ADMITTED,
# CACHE_HIT or CACHE_BUSY, or raises (a refusal, or StateUnavailable).
Attempt = Callable[[CacheClaim | None], Awaitable[AdmitResult]]


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
    _local: tuple[str, asyncio.Future[bytes | None]] | None = field(default=None, repr=False)  # (digest, future)
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
        self._inflight: dict[str, asyncio.Future[bytes | None]] = {}  # by digest: whatever the namespace

    async def namespace(self) -> int:
        raw = await self._store.get(NAMESPACE_KEY)
        return int(raw) if raw else 0

    async def bump_namespace(self) -> int:
        """Invalidate every entry at once (e.g. after new information is added). Returns the new version."""
        version = await self._store.incr(NAMESPACE_KEY)
        log.info("cache_namespace_bumped", version=version)
        return version

    def _claim(self, digest: str, *, lead: bool) -> CacheClaim:
        token = secrets.token_hex(16).encode()
        lock_ms = ceil_ms(self._lock_seconds)
        return CacheClaim(NAMESPACE_KEY, _ENTRY_HEAD, _LOCK_HEAD, digest, token, lock_ms, lead)

    async def lookup(
        self, mode: CacheMode, body: dict[str, Any], client_id: str, endpoint: str = CHAT_COMPLETIONS
    ) -> CacheLookup:
        """The cache on its own (nothing else taken); BYPASS when Redis is unavailable."""

        async def cache_only(claim: CacheClaim | None) -> AdmitResult:
            if claim is None:
                return AdmitResult(Outcome.ADMITTED)
            return await self._store.admit(AdmitPlan(cache=claim))

        try:
            lookup, _ = await self.resolve(mode, body, client_id, cache_only, endpoint=endpoint)
        except StateUnavailable:
            return CacheLookup(CacheStatus.BYPASS)  # the health tracker has logged the outage
        return lookup

    async def resolve(
        self,
        mode: CacheMode,
        body: dict[str, Any],
        client_id: str,
        attempt: Attempt,
        *,
        endpoint: str = CHAT_COMPLETIONS,
    ) -> tuple[CacheLookup, AdmitResult | None]:
        """The lookup, made by `attempt` together with whatever else it takes; its result (None on a HIT).

        Raises what `attempt` raises, StateUnavailable included (the caller decides what that means).
        """
        if mode is CacheMode.BYPASS:
            return CacheLookup(CacheStatus.BYPASS), await attempt(None)
        digest = request_digest(body, client_id if self._scope == "client" else "shared", endpoint)
        if mode is CacheMode.REFRESH:
            result = await attempt(self._claim(digest, lead=False))
            return CacheLookup(CacheStatus.MISS, key=result.cache_key), result
        deadline = time.monotonic() + self._wait_seconds
        looked = False  # the entry is looked up at least once, however short the wait
        while True:
            remaining = deadline - time.monotonic()
            if looked and remaining <= 0:  # waited long enough: call upstream ourselves
                result = await attempt(self._claim(digest, lead=False))
                return CacheLookup(CacheStatus.MISS, key=result.cache_key), result
            waiting_on = self._inflight.get(digest)
            if waiting_on is not None and remaining > 0:  # someone in this process leads or polls: share its answer
                looked = True  # it looked: the entry was missing
                try:
                    answer = await asyncio.wait_for(asyncio.shield(waiting_on), remaining)
                except TimeoutError:
                    continue
                if answer is not None:
                    return CacheLookup(CacheStatus.HIT, answer), None
                continue  # it ended without an answer: look again, perhaps lead
            looked = True
            local: asyncio.Future[bytes | None] = asyncio.get_running_loop().create_future()
            self._inflight[digest] = local
            claim, answer = self._claim(digest, lead=True), None
            try:
                result = await attempt(claim)
                if result.outcome is Outcome.CACHE_BUSY and result.cache_key and result.lock_key:
                    answer = await self._poll(result.cache_key, result.lock_key, deadline)
            except BaseException:
                self._settle_local(digest, local, None)
                raise
            if result.outcome is Outcome.ADMITTED:  # leading: the future is settled when filled or abandoned
                lock = (result.lock_key, claim.token) if result.lock_key is not None else None
                return CacheLookup(CacheStatus.MISS, key=result.cache_key, _lock=lock, _local=(digest, local)), result
            if result.outcome is Outcome.CACHE_HIT:
                answer = result.body
            self._settle_local(digest, local, answer)
            if answer is not None:
                return CacheLookup(CacheStatus.HIT, answer, result.cache_key), None

    async def _poll(self, key: str, lock_key: str, deadline: float) -> bytes | None:
        """Wait for another process's answer; None when its lock goes without one, or at the deadline."""
        interval = _POLL_FIRST_SECONDS
        while time.monotonic() < deadline:
            await asyncio.sleep(min(interval, max(0.0, deadline - time.monotonic())))
            body, lock = await self._store.get_many([key, lock_key])  # one instant: a fill releases in the same step
            if body is not None or lock is None:
                return body
            interval = min(interval * 2, _POLL_MAX_SECONDS)
        return None

    def _settle_local(self, digest: str, local: asyncio.Future[bytes | None], body: bytes | None) -> None:
        if self._inflight.get(digest) is local:
            del self._inflight[digest]
        if not local.done():
            local.set_result(body)

    def closing_writes(
        self, lookup: CacheLookup, completion: dict[str, Any] | bytes | None
    ) -> tuple[Writes, bytes | None]:
        """For a MISS: the entry (when `completion` is a complete answer) and the lock's release; the body stored."""
        if lookup.status is not CacheStatus.MISS or lookup.key is None or lookup.finished:
            return Writes(), None
        body: bytes | None = None
        if completion is not None:
            data = orjson.loads(completion) if isinstance(completion, bytes) else completion
            if is_complete(data):
                body = completion if isinstance(completion, bytes) else orjson.dumps(completion)
        puts = (Put(lookup.key, body, ceil_ms(self._ttl)),) if body is not None else ()
        releases = (Release(*lookup._lock),) if lookup._lock is not None else ()
        return Writes(puts=puts, releases=releases), body

    def finished(self, lookup: CacheLookup, body: bytes | None) -> None:
        """After the closing writes (`body`: what was stored, None if nothing was): wake this process's waiters."""
        if lookup.finished:
            return
        lookup.finished = True
        if lookup._local is not None:
            digest, local = lookup._local
            self._settle_local(digest, local, body)

    async def fill(self, lookup: CacheLookup, completion: dict[str, Any] | bytes) -> bool:
        """Store a finished answer for a MISS and wake its waiters. False if it was not storable."""
        writes, body = self.closing_writes(lookup, completion)
        stored = await self._state.settle(writes) and body is not None
        self.finished(lookup, body if stored else None)
        return stored

    async def abandon(self, lookup: CacheLookup) -> None:
        """No answer to store (upstream failed, or the stream broke): let the waiters go."""
        writes, _ = self.closing_writes(lookup, None)
        await self._state.settle(writes)  # if it fails, the lock expires on its own
        self.finished(lookup, None)
