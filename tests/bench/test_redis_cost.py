"""The bench's Redis cost per request, read off a real redis-server for a workload whose cost is known."""

from __future__ import annotations

import pytest

from bench.redis_cost import measure_redis_cost
from tests.support.redis import RedisServer

# Two commands run by a script: they count as commands, not as round trips.
SCRIPT = "redis.call('SET', KEYS[1], ARGV[1]) return redis.call('GET', KEYS[1])"


def test_commands_and_round_trips_per_request_are_read_off_the_server(
    redis_server: RedisServer, redis_url: str
) -> None:
    with redis_server.client() as client:
        client.ping()  # connected (and its handshake made) before the measurement
        script = client.register_script(SCRIPT)
        script(keys=["warm"], args=["x"])  # loaded before the measurement

        def send(requests: int) -> None:
            for i in range(requests):
                with client.pipeline(transaction=True) as pipe:  # one round trip: MULTI, INCRBY, EXPIRE, EXEC
                    pipe.incr(f"n:{i}")
                    pipe.expire(f"n:{i}", 60)
                    pipe.execute()
                script(keys=[f"s:{i}"], args=["v"])  # one round trip: EVALSHA running SET and GET

        cost = measure_redis_cost(redis_server.port, send, requests=20)

    assert cost.round_trips == 2
    assert cost.commands == {"multi": 1, "incrby": 1, "expire": 1, "exec": 1, "evalsha": 1, "set": 1, "get": 1}
    assert cost.total_commands == 7
    assert cost.render().startswith("Redis per request (20 requests): 2.00 round trips, 7.00 commands (")
    assert cost.as_json()["by_command"]["evalsha"] == 1


def test_nothing_sent_costs_nothing_and_no_requests_is_refused(redis_server: RedisServer, redis_url: str) -> None:
    assert measure_redis_cost(redis_server.port, lambda n: None, requests=5).round_trips == 0
    with pytest.raises(ValueError, match="at least 1"):
        measure_redis_cost(redis_server.port, lambda n: None, requests=0)
