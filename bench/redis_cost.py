"""What each request costs Redis: commands (by name) and round trips, read off the Redis server itself.

Counted at the server, not in the service, so that every worker, connection and library is included
and nothing in the service has to be instrumented. Redis 7.0 reports both figures:

- `INFO commandstats` counts every command Redis ran, by name, including the ones a Lua script runs
  with `redis.call` (an EVALSHA that runs 20 commands shows as 1 `evalsha` plus those 20).
- `INFO stats` `total_reads_processed` counts reads of client sockets: one per read event, however
  many commands (a pipeline, a MULTI/EXEC block) arrived in it. A client that writes a request in one
  send and waits for the reply before its next (redis-py does, for a command, a pipeline or a script)
  makes one read per round trip, as long as the request fits one read (16 KiB, more for large values).

Our own INFO calls are left out: the read and the command of the snapshot taken after the requests.
Anything else that talks to the server meanwhile is counted, so measure on a Redis nobody else uses.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import redis

_OWN_COMMANDS = frozenset({"info"})  # the snapshots themselves


@dataclass(frozen=True)
class RedisCounters:
    """One snapshot of the server's counters."""

    reads: int
    commands: Mapping[str, int]

    @classmethod
    def read(cls, client: redis.Redis) -> RedisCounters:
        info: dict[str, Any] = client.info("stats", "commandstats")
        commands = {
            name.removeprefix("cmdstat_"): int(stats["calls"])
            for name, stats in info.items()
            if name.startswith("cmdstat_") and name.removeprefix("cmdstat_") not in _OWN_COMMANDS
        }
        return cls(reads=int(info["total_reads_processed"]), commands=commands)


@dataclass(frozen=True)
class RedisCost:
    """Per request, averaged over `requests`."""

    requests: int
    round_trips: float
    commands: Mapping[str, float] = field(default_factory=dict)  # by name, as Redis reports it (`evalsha`, `get`)

    @property
    def total_commands(self) -> float:
        return sum(self.commands.values())

    def render(self) -> str:
        by_name = ", ".join(f"{name} {count:g}" for name, count in sorted(self.commands.items(), key=lambda c: -c[1]))
        return (
            f"Redis per request ({self.requests} requests): {self.round_trips:.2f} round trips, "
            f"{self.total_commands:.2f} commands ({by_name or 'none'})"
        )

    def as_json(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "round_trips": round(self.round_trips, 3),
            "commands": round(self.total_commands, 3),
            "by_command": {name: round(count, 3) for name, count in sorted(self.commands.items())},
        }


def difference(before: RedisCounters, after: RedisCounters, requests: int) -> RedisCost:
    """The cost per request between two snapshots (the second snapshot's own read left out)."""
    if requests < 1:
        raise ValueError(f"requests must be at least 1 (got {requests})")
    commands = {
        name: (calls - before.commands.get(name, 0)) / requests
        for name, calls in after.commands.items()
        if calls > before.commands.get(name, 0)
    }
    return RedisCost(requests, (after.reads - before.reads - 1) / requests, commands)


def measure_redis_cost(
    redis_port: int, send_requests: Callable[[int], object], requests: int = 100, *, host: str = "127.0.0.1"
) -> RedisCost:
    """Call `send_requests(requests)`, which sends that many requests through the service and returns
    when they are answered, and return what they cost the Redis on `host:redis_port`, per request."""
    if requests < 1:
        raise ValueError(f"requests must be at least 1 (got {requests})")
    with redis.Redis(host=host, port=redis_port, socket_timeout=5) as client:
        before = RedisCounters.read(client)
        send_requests(requests)
        after = RedisCounters.read(client)
    return difference(before, after, requests)
