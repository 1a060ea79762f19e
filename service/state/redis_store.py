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
from limits.aio.storage import RedisStorage, Storage
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import MaxConnectionsError, RedisError

from service.state.errors import StateBusy, StateUnavailable
from service.state.health import BackendHealth
from service.state.store import Bucket, HashIncrement, ReserveResult

T = TypeVar("T")

# KEYS: the buckets. ARGV: amount, then (limit or -1, ttl seconds) per bucket.
_RESERVE = """
local amount = tonumber(ARGV[1])
local values = {}
for i = 1, #KEYS do
  local value = tonumber(redis.call('GET', KEYS[i]) or '0')
  local limit = tonumber(ARGV[2 * i])
  if limit >= 0 and value + amount > limit then
    return {0, i, value}
  end
  values[i] = value
end
local result = {1, 0}
for i = 1, #KEYS do
  result[i + 2] = redis.call('INCRBY', KEYS[i], amount)
  redis.call('EXPIRE', KEYS[i], tonumber(ARGV[2 * i + 1]))
end
return result
"""

_DELETE_IF_EQUALS = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


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
    pool = aioredis.BlockingConnectionPool.from_url(
        url,
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
        self._reserve = client.register_script(_RESERVE)
        self._delete_if_equals = client.register_script(_DELETE_IF_EQUALS)
        self._limits: Storage | None = None

    def _k(self, key: str) -> str:
        return f"{self._prefix}{key}"

    async def guard(self, operation: Callable[[], Awaitable[T]]) -> T:
        """Run a backend operation under the health tracker (also used for the `limits` storage)."""
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

    async def reserve(self, buckets: Sequence[Bucket], amount: int) -> ReserveResult:
        args: list[int] = [amount]
        for bucket in buckets:
            args += [-1 if bucket.limit is None else bucket.limit, bucket.ttl_seconds]
        keys = [self._k(b.key) for b in buckets]
        raw: list[Any] = await self.guard(lambda: self._reserve(keys=keys, args=args))
        if int(raw[0]) == 1:
            return ReserveResult(True, tuple(int(v) for v in raw[2:]))
        index = int(raw[1]) - 1
        return ReserveResult(False, tuple(int(v) for v in await self.read_ints([b.key for b in buckets])), index)

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

    def limits_storage(self) -> Storage:
        if self._limits is None:
            # Same connection pool as everything else: one set of sockets, one TLS/AUTH configuration.
            self._limits = RedisStorage(
                "async+redis://",
                implementation="redispy",
                key_prefix=f"{self._prefix}limits",
                # limits types its options as scalars, but documents and accepts a connection pool here.
                connection_pool=self._redis.connection_pool,  # type: ignore[arg-type]
            )
        return self._limits

    async def aclose(self) -> None:
        await self._redis.aclose()
