"""`Store` on Redis (`redis.asyncio`), shared by every worker and container.

One client per process, built in the app's lifespan. `rediss://` URLs get TLS (ElastiCache in-transit
encryption); the AUTH token is passed separately as the password so it never sits in a URL or a log.

The connection pool blocks: under load a call waits (up to `pool_timeout_seconds`) for a connection
instead of failing at once with "Too many connections". A pool that stays exhausted for the whole wait
fails that one call (`StateBusy`) without marking Redis as down: that is load, not an outage.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Literal, TypeVar, cast
from urllib.parse import urlsplit

import redis.asyncio as aioredis
from redis.asyncio.connection import AbstractConnection, Connection, SSLConnection, parse_url
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.connection import HiredisRespSerializer
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import MaxConnectionsError, RedisError

from service.state.errors import StateBusy, StateUnavailable
from service.state.health import BackendHealth
from service.state.plans import AdmitPlan, AdmitResult, Bucket, HashIncrement, Outcome, Writes
from service.state.scripts import ADMIT, SETTLE
from service.state.windows import WINDOW_MS, WindowState

T = TypeVar("T")

_DELETE_IF_EQUALS = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


# redis-py's asyncio connections encode commands in Python, argument by argument; its synchronous ones
# use hiredis's C encoder when hiredis is installed (it is: `redis[hiredis]`). The scripts' calls carry
# 30 to 60 arguments: encoding a 60-argument call took 47 µs in Python and 7 µs in C (timeit, 2026-12-01),
# byte for byte the same (tests/service/state/test_redis_packing.py). These use redis-py's own serializer.
_HIREDIS = HiredisRespSerializer()


class _HiredisPacking:
    def pack_command(self, *args: Any) -> list[bytes]:
        return cast(list[bytes], _HIREDIS.pack(*args))


class HiredisConnection(_HiredisPacking, Connection):
    pass


class HiredisSSLConnection(_HiredisPacking, SSLConnection):
    pass


_WITH_HIREDIS: dict[type[AbstractConnection], type[Connection]] = {
    Connection: HiredisConnection,
    SSLConnection: HiredisSSLConnection,
}


def build_redis_client(
    url: str,
    *,
    auth_token: str | None,
    socket_timeout_seconds: float,
    connect_timeout_seconds: float,
    max_connections: int = 100,
    pool_timeout_seconds: float = 2.0,
) -> aioredis.Redis:
    """One client (and connection pool) per process; `rediss://` means TLS with certificate checks."""
    parts = urlsplit(url)
    if parts.scheme not in {"redis", "rediss"}:
        raise ValueError(f"REDIS_URL must start with redis:// or rediss:// (got {parts.scheme or 'no'} scheme)")
    if auth_token and parts.password:
        raise ValueError("REDIS_URL carries a password and REDIS_AUTH_TOKEN is set too; keep only REDIS_AUTH_TOKEN")
    options = parse_url(url)
    options["connection_class"] = _WITH_HIREDIS[options.get("connection_class", Connection)]
    pool = aioredis.BlockingConnectionPool(
        **options,
        max_connections=max_connections,
        timeout=pool_timeout_seconds,
        password=auth_token or None,
        socket_timeout=socket_timeout_seconds,
        socket_connect_timeout=connect_timeout_seconds,
        # One immediate retry on a fresh connection covers pooled sockets left dead by a Redis restart;
        # more would only add latency while Redis is really down (the health tracker handles that).
        retry=Retry(NoBackoff(), 1),
        health_check_interval=30,
    )
    return aioredis.Redis.from_pool(pool)


def _pool_exhausted(error: BaseException) -> bool:
    """The blocking pool's wait ran out (or a non-blocking pool was full): no connection was even tried."""
    if isinstance(error, MaxConnectionsError):
        return True
    return isinstance(error, RedisConnectionError) and isinstance(error.__cause__, TimeoutError)


class RedisStore:
    kind: Literal["redis", "memory"] = "redis"

    def __init__(self, client: aioredis.Redis, *, key_prefix: str, health: BackendHealth | None = None) -> None:
        self._redis = client
        self._prefix = key_prefix
        self.health = health or BackendHealth("redis")
        self._admit = client.register_script(ADMIT)
        self._settle = client.register_script(SETTLE)
        self._delete_if_equals = client.register_script(_DELETE_IF_EQUALS)

    def _k(self, key: str) -> str:
        return f"{self._prefix}{key}"

    async def guard(self, operation: Callable[[], Awaitable[T]]) -> T:
        """Run a backend operation under the health tracker."""
        if not self.health.allow():
            raise StateUnavailable(self.health.last_error or "redis unavailable")
        try:
            result = await operation()
        except (RedisError, OSError, TimeoutError) as exc:
            if _pool_exhausted(exc):
                self.health.record_busy()
                raise StateBusy("every Redis connection of this process stayed busy for the whole wait") from exc
            self.health.record_failure(exc)
            raise StateUnavailable(str(exc)) from exc
        self.health.record_success()
        return result

    async def ping(self) -> None:
        await self.guard(self._redis.ping)

    async def get(self, key: str) -> bytes | None:
        value = await self.guard(lambda: self._redis.get(self._k(key)))
        return cast(bytes | None, value)

    async def put(self, key: str, value: bytes, *, ttl_seconds: float, only_if_absent: bool = False) -> bool:
        ttl_ms = max(1, int(ttl_seconds * 1000))
        result = await self.guard(lambda: self._redis.set(self._k(key), value, px=ttl_ms, nx=only_if_absent))
        return bool(result)

    async def delete_if_equals(self, key: str, expected: bytes) -> bool:
        result = await self.guard(lambda: self._delete_if_equals(keys=[self._k(key)], args=[expected]))
        return bool(result)

    async def incr(self, key: str) -> int:
        return int(await self.guard(lambda: self._redis.incr(self._k(key))))

    async def get_many(self, keys: Sequence[str]) -> list[bytes | None]:
        values = await self.guard(lambda: self._redis.mget([self._k(k) for k in keys]))
        return [cast(bytes | None, v) for v in values]

    async def admit(self, plan: AdmitPlan) -> AdmitResult:
        claim = plan.cache
        unused = self._prefix  # a key slot the script does not read in this plan
        keys = [
            self._k(claim.namespace_key) if claim else unused,
            self._k(plan.pause_key) if plan.pause_key else unused,
        ]
        keys += [self._k(w.key) for w in plan.windows] + [self._k(b.key) for b in plan.buckets]
        args: list[str | int | bytes] = [WINDOW_MS]
        if claim is None:
            args += [0, "", "", "", "", 0]
        else:
            args += [1 if claim.lead else 2, self._k(claim.entry_head), self._k(claim.lock_head)]
            args += [claim.digest, claim.token, claim.lock_ms]
        args += [len(plan.client_windows), len(plan.fleet_windows), len(plan.buckets), plan.amount]
        args.append(1 if plan.pause_key else 0)
        for window in plan.windows:
            args += [window.limit, window.cost]
        for bucket in plan.buckets:
            args += [-1 if bucket.limit is None else bucket.limit, bucket.ttl_seconds]
        raw: list[Any] = await self.guard(lambda: self._admit(keys=keys, args=args))
        return _admit_result(plan, raw)

    async def settle(self, writes: Writes) -> None:
        keys: list[str] = []
        args: list[str | int | bytes] = []
        for window in writes.windows:
            keys.append(window.key)
            args += [window.limit, window.cost]
        for bucket, delta in writes.counters:
            keys.append(bucket.key)
            args += [delta, bucket.ttl_seconds]
        for inc in writes.increments:
            keys.append(inc.key)
            args += [inc.ttl_seconds, len(inc.fields)]
            for name, amount in inc.fields.items():
                args += [name, amount]
        for member in writes.members:
            keys.append(member.key)
            args += [member.member, member.ttl_seconds]
        for put in writes.puts:
            keys.append(put.key)
            args += [put.value, put.ttl_ms]
        for release in writes.releases:
            keys.append(release.key)
            args.append(release.token)
        if writes.pause is not None:
            keys.append(writes.pause.key)
        counts = [len(writes.windows), len(writes.counters), len(writes.increments), len(writes.members)]
        counts += [len(writes.puts), len(writes.releases), writes.pause.ms if writes.pause else 0]
        prefixed = [self._k(key) for key in keys]
        await self.guard(lambda: self._settle(keys=prefixed, args=[WINDOW_MS, *counts, *args]))

    async def adjust(self, buckets: Sequence[Bucket], delta: int) -> None:
        async def run() -> None:
            async with self._redis.pipeline(transaction=True) as pipe:
                for bucket in buckets:
                    pipe.incrby(self._k(bucket.key), delta)
                    pipe.expire(self._k(bucket.key), bucket.ttl_seconds)
                await pipe.execute()

        await self.guard(run)

    async def read_ints(self, keys: Sequence[str]) -> list[int]:
        values = await self.guard(lambda: self._redis.mget([self._k(k) for k in keys]))
        return [int(v) if v is not None else 0 for v in values]

    async def hincr(self, increments: Sequence[HashIncrement]) -> None:
        async def run() -> None:
            async with self._redis.pipeline(transaction=True) as pipe:
                for inc in increments:
                    for name, amount in inc.fields.items():
                        pipe.hincrby(self._k(inc.key), name, amount)
                    pipe.expire(self._k(inc.key), inc.ttl_seconds)
                await pipe.execute()

        await self.guard(run)

    async def hgetall(self, keys: Sequence[str]) -> list[dict[str, int]]:
        async def run() -> list[dict[bytes, bytes]]:
            async with self._redis.pipeline(transaction=False) as pipe:
                for key in keys:
                    pipe.hgetall(self._k(key))
                return list(await pipe.execute())

        rows = await self.guard(run)
        return [{k.decode(): int(v) for k, v in row.items()} for row in rows]

    async def add_member(self, key: str, member: str, ttl_seconds: int) -> None:
        async def run() -> None:
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.sadd(self._k(key), member)
                pipe.expire(self._k(key), ttl_seconds)
                await pipe.execute()

        await self.guard(run)

    async def members(self, key: str) -> set[str]:
        raw = await self.guard(lambda: self._redis.smembers(self._k(key)))
        return {m.decode() if isinstance(m, bytes) else m for m in raw}

    async def aclose(self) -> None:
        await self._redis.aclose()


def _admit_result(plan: AdmitPlan, raw: list[Any]) -> AdmitResult:
    """The ADMIT script's reply (service.state.scripts) as an `AdmitResult`."""
    outcome, index, wait_ms, version, body, left_ms, n_windows = raw[:7]
    counts = raw[7 : 7 + 2 * int(n_windows)]
    windows = tuple(WindowState(int(counts[i]), int(counts[i + 1]), int(left_ms)) for i in range(0, len(counts), 2))
    values = tuple(int(v) for v in raw[8 + 2 * int(n_windows) :])
    claim, version = plan.cache, version.decode() if version is not None else None
    return AdmitResult(
        outcome=Outcome(int(outcome)),
        refused=int(index) - 1 if int(index) else None,
        wait_seconds=int(wait_ms) / 1000,
        cache_key=claim.entry_key(version) if claim is not None and version is not None else None,
        lock_key=claim.lock_key(version) if claim is not None and claim.lead and version is not None else None,
        body=body,
        windows=windows,
        values=values,
    )
