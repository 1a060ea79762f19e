"""The split of the load's connections across workers: /proc/net/tcp parsing, the count, and a live sample."""

from __future__ import annotations

import os
import socket
import time

from bench.connections import ConnectionSplit, MidRunSample, established_inodes, sample_split, socket_inode

PORT = 0x1F90  # 8080
# Header, then: the listening socket, two accepted server-side connections, one still in the listen queue
# (inode 0), the client side of a connection to the port (remote 1F90: not the server's), a TIME_WAIT one,
# and an established connection on another local port.
NET_TCP = """\
  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 100 1 0 100 0 0 10 0
   1: 0100007F:1F90 0100007F:C350 01 00000000:00000000 00:00000000 00000000     0        0 201 1 0 20 4 30 10 -1
   2: 0100007F:1F90 0100007F:C351 01 00000000:00000000 00:00000000 00000000     0        0 202 1 0 20 4 30 10 -1
   3: 0100007F:1F90 0100007F:C352 01 00000000:00000000 00:00000000 00000000     0        0 0 1 0 20 4 30 10 -1
   4: 0100007F:C350 0100007F:1F90 01 00000000:00000000 00:00000000 00000000     0        0 301 1 0 20 4 30 10 -1
   5: 0100007F:1F90 0100007F:C353 06 00000000:00000000 03:00000F8E 00000000     0        0 0 3 0
   6: 0100007F:1F91 0100007F:C354 01 00000000:00000000 00:00000000 00000000     0        0 401 1 0 20 4 30 10 -1
"""


def test_socket_inode_is_read_from_socket_links_only() -> None:
    assert socket_inode("socket:[12345]") == 12345
    assert socket_inode("pipe:[12345]") is None
    assert socket_inode("/dev/null") is None


def test_only_established_server_side_connections_on_the_port_are_counted() -> None:
    assert established_inodes(NET_TCP, PORT) == [201, 202, 0]


def test_connections_are_counted_against_the_worker_holding_them() -> None:
    split = ConnectionSplit.of({20: {201, 999}, 10: {202, 5}}, [201, 202, 0, 777])
    assert split.by_pid == {10: 1, 20: 1}  # by pid, in pid order
    assert split.elsewhere == 2
    assert split.total == 4
    assert str(split) == "1/1 (+2 not accepted)"


def test_an_uneven_split_reads_as_counts_per_worker() -> None:
    established = list(range(50))
    split = ConnectionSplit.of({1: set(range(26)), 2: set(range(26, 50))}, established)
    assert str(split) == "26/24"
    assert split.as_json() == {"by_pid": {"1": 26, "2": 24}, "not_accepted": 0}


def test_a_worker_holding_none_shows_as_zero() -> None:
    assert str(ConnectionSplit.of({1: {7}, 2: set()}, [7, 7, 7])) == "3/0"


def test_a_live_sample_finds_the_connections_this_process_accepted() -> None:
    with socket.create_server(("127.0.0.1", 0), backlog=8) as server:
        port = server.getsockname()[1]
        clients = [socket.create_connection(("127.0.0.1", port)) for _ in range(3)]
        accepted = [server.accept()[0] for _ in range(2)]
        try:
            time.sleep(0.05)  # the third handshake completes in the listen queue
            split = sample_split([os.getpid()], port)
        finally:
            for sock in clients + accepted:
                sock.close()
    assert split.by_pid == {os.getpid(): 2}
    assert split.elsewhere == 1


def test_the_mid_run_sample_is_taken_once_after_its_delay() -> None:
    calls = []

    def take() -> ConnectionSplit:
        calls.append(time.monotonic())
        return ConnectionSplit({1: 1})

    started = time.monotonic()
    with MidRunSample(take, delay=0.1) as sample:
        time.sleep(0.3)
    assert len(calls) == 1
    assert calls[0] - started >= 0.1
    assert sample.result == ConnectionSplit({1: 1})


def test_a_run_that_ends_before_the_delay_has_no_sample() -> None:
    with MidRunSample(lambda: ConnectionSplit({1: 1}), delay=30) as sample:
        pass
    assert sample.result is None
