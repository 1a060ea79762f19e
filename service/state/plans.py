"""What one upstream call asks of the shared state: everything before it in one step, everything after in one.

`AdmitPlan` is the work before the call (`Store.admit`): look the answer up in the response cache and, on
a miss, take its fill lock; take the client's windows, reserve on the spend budgets, check the fleet's
pause and take the fleet's windows. It is all or nothing: a cache hit takes nothing else, and a refusal
leaves everything as it was and says which check refused. `Writes` is the work after (`Store.settle`):
budget deltas, window reconciliations, usage counters, the cache fill and lock release, the fleet pause.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from enum import IntEnum

from service.state.windows import WindowState, WindowTake


def ceil_ms(seconds: float) -> int:
    """A duration in whole milliseconds, at least one (what Redis' PX takes)."""
    return max(1, math.ceil(seconds * 1000))


@dataclass(frozen=True)
class Bucket:
    """One integer counter that must stay at or below `limit` (None: counted, never refused)."""

    key: str
    limit: int | None
    ttl_seconds: int


@dataclass(frozen=True)
class HashIncrement:
    key: str
    fields: Mapping[str, int]
    ttl_seconds: int


@dataclass(frozen=True)
class CacheClaim:
    """A cache entry whose key holds the namespace version stored at `namespace_key` (read in the same step).

    The entry is `{entry_head}{version}:{digest}`, its fill lock `{lock_head}{version}:{digest}`. With
    `lead`, the entry is read and, on a miss, the lock is taken with `token` if nobody holds it; without,
    the step only names the entry (a refresh, or a request that has waited long enough for another's answer).
    """

    namespace_key: str
    entry_head: str
    lock_head: str
    digest: str
    token: bytes
    lock_ms: int
    lead: bool = True

    def entry_key(self, version: str) -> str:
        return f"{self.entry_head}{version}:{self.digest}"

    def lock_key(self, version: str) -> str:
        return f"{self.lock_head}{version}:{self.digest}"


@dataclass(frozen=True)
class AdmitPlan:
    """Checked in this order; the first that refuses is reported. `client_windows` and `fleet_windows`
    share one index in results: the client's first, then the fleet's."""

    cache: CacheClaim | None = None
    client_windows: tuple[WindowTake, ...] = ()
    buckets: tuple[Bucket, ...] = ()
    amount: int = 0  # added to every bucket
    pause_key: str | None = None  # holds the time (ms since the epoch) until which the fleet holds new calls
    fleet_windows: tuple[WindowTake, ...] = ()

    @property
    def windows(self) -> tuple[WindowTake, ...]:
        return self.client_windows + self.fleet_windows


class Outcome(IntEnum):
    ADMITTED = 0  # everything taken (and the cache lock, when leading a miss)
    CACHE_HIT = 1  # nothing taken
    CACHE_BUSY = 2  # another request holds the fill lock; nothing taken
    WINDOW_FULL = 3  # `refused` indexes `AdmitPlan.windows`
    OVER_BUDGET = 4  # `refused` indexes `AdmitPlan.buckets`
    PAUSED = 5  # the fleet is paused for `wait_seconds`


@dataclass(frozen=True)
class AdmitResult:
    outcome: Outcome
    refused: int | None = None
    wait_seconds: float = 0.0
    cache_key: str | None = None  # the entry's key (with the namespace version), when the plan had a claim
    lock_key: str | None = None  # its fill lock's, when the claim leads (taken if ADMITTED)
    body: bytes | None = None  # on a hit
    windows: tuple[WindowState, ...] = ()  # after the takes when admitted, as found when refused (by a check)
    values: tuple[int, ...] = ()  # every bucket after the reservation, when admitted


@dataclass(frozen=True)
class SetMember:
    key: str
    member: str
    ttl_seconds: int


@dataclass(frozen=True)
class Put:
    key: str
    value: bytes
    ttl_ms: int


@dataclass(frozen=True)
class Release:
    """Delete `key` only while it still holds `token` (a lock we own)."""

    key: str
    token: bytes


@dataclass(frozen=True)
class Pause:
    """Set `key` to the time `ms` from now (the backend's clock), expiring then."""

    key: str
    ms: int


@dataclass(frozen=True)
class Writes:
    """Writes after a call, made together. Window takes follow `limits`' rule: one that does not fit is
    skipped (a refund always fits, unless the window is over its limit by more than the refund)."""

    windows: tuple[WindowTake, ...] = ()
    counters: tuple[tuple[Bucket, int], ...] = ()  # (counter, delta), no limit checked
    increments: tuple[HashIncrement, ...] = ()
    members: tuple[SetMember, ...] = ()
    puts: tuple[Put, ...] = ()
    releases: tuple[Release, ...] = ()  # after the puts
    pause: Pause | None = None

    def __add__(self, other: Writes) -> Writes:
        return Writes(
            self.windows + other.windows,
            self.counters + other.counters,
            self.increments + other.increments,
            self.members + other.members,
            self.puts + other.puts,
            self.releases + other.releases,
            other.pause or self.pause,
        )

    def __bool__(self) -> bool:
        return bool(
            self.windows or self.counters or self.increments or self.members or self.puts or self.releases or self.pause
        )
