"""The connections' hiredis encoder sends the bytes redis-py's own Python encoder would (service.state.redis_store)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from redis.asyncio.connection import Connection
from redis.exceptions import DataError

from service.state.redis_store import HiredisConnection, HiredisSSLConnection

ARGUMENT = st.one_of(
    st.text(),
    st.binary(),
    st.integers(min_value=-(2**63), max_value=2**64),
    st.floats(allow_nan=False),
)
COMMAND = st.sampled_from(["EVALSHA", "SET", "CONFIG GET", b"CLIENT SETINFO", "HINCRBY"])


@given(COMMAND, st.lists(ARGUMENT, max_size=60))
def test_hiredis_packing_is_byte_for_byte_redis_pys(command: str | bytes, arguments: list[object]) -> None:
    python, hiredis = Connection(), HiredisConnection()
    assert b"".join(hiredis.pack_command(command, *arguments)) == b"".join(python.pack_command(command, *arguments))


def test_both_connection_kinds_pack_with_hiredis_and_refuse_what_redis_py_refuses() -> None:
    for connection in (HiredisConnection(), HiredisSSLConnection()):
        assert connection.pack_command("SET", "k", memoryview(b"v")) == [b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n"]
        with pytest.raises(DataError):  # as redis-py refuses it
            connection.pack_command("SET", "k", None)
