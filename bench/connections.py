"""How the load's connections are split across the gunicorn workers, read from /proc mid-run.

Each worker listens on its own SO_REUSEPORT socket and the kernel picks one per new connection. The
server side of every established connection on the service's port is a socket whose inode is in one
worker's /proc/<pid>/fd, or in none while it waits in a listen queue (inode 0).
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Final

_SOCKET_LINK: Final = re.compile(r"socket:\[(\d+)\]")
_ESTABLISHED: Final = "01"  # the `st` column of /proc/net/tcp
_NET_TCP: Final = (Path("/proc/net/tcp"), Path("/proc/net/tcp6"))


def socket_inode(link: str) -> int | None:
    """The inode of an fd link target like `socket:[12345]`; None for anything else (files, pipes)."""
    match = _SOCKET_LINK.fullmatch(link)
    return int(match.group(1)) if match else None


def established_inodes(net_tcp: str, port: int) -> list[int]:
    """Socket inodes of established connections whose local port is `port` (the server side), from the
    text of /proc/net/tcp or tcp6; 0 for one not yet accepted."""
    inodes = []
    for line in net_tcp.splitlines()[1:]:
        fields = line.split()
        if len(fields) < 10 or fields[3] != _ESTABLISHED:
            continue
        local_port = int(fields[1].rsplit(":", 1)[1], 16)
        if local_port == port:
            inodes.append(int(fields[9]))
    return inodes


@dataclass(frozen=True)
class ConnectionSplit:
    by_pid: Mapping[int, int]  # worker pid -> connections it holds
    elsewhere: int = 0  # established but held by no worker (still in a listen queue)

    @classmethod
    def of(cls, sockets_by_pid: Mapping[int, Iterable[int]], established: Iterable[int]) -> ConnectionSplit:
        """Count each established connection's inode against the worker whose fds hold it."""
        owner = {inode: pid for pid, inodes in sockets_by_pid.items() for inode in inodes}
        counts = dict.fromkeys(sorted(sockets_by_pid), 0)
        elsewhere = 0
        for inode in established:
            pid = owner.get(inode)
            if pid is None:
                elsewhere += 1
            else:
                counts[pid] += 1
        return cls(counts, elsewhere)

    @property
    def total(self) -> int:
        return sum(self.by_pid.values()) + self.elsewhere

    def __str__(self) -> str:
        split = "/".join(str(count) for count in self.by_pid.values()) or "no workers"
        return split + (f" (+{self.elsewhere} not accepted)" if self.elsewhere else "")

    def as_json(self) -> dict[str, Any]:
        return {"by_pid": {str(pid): count for pid, count in self.by_pid.items()}, "not_accepted": self.elsewhere}


def _socket_inodes(pid: int) -> set[int]:
    inodes: set[int] = set()
    fd_dir = Path(f"/proc/{pid}/fd")
    try:
        names = os.listdir(fd_dir)
    except OSError:
        return inodes  # exited
    for name in names:
        try:
            inode = socket_inode(os.readlink(fd_dir / name))
        except OSError:
            continue  # closed while we looked
        if inode is not None:
            inodes.add(inode)
    return inodes


def sample_split(worker_pids: Iterable[int], port: int) -> ConnectionSplit:
    established = [inode for path in _NET_TCP if path.exists() for inode in established_inodes(path.read_text(), port)]
    return ConnectionSplit.of({pid: _socket_inodes(pid) for pid in worker_pids}, established)


class MidRunSample:
    """Calls `take` once, `delay` seconds after entering, on a timer thread (the load holds the main one).

    `result` is None if the block ended first or `take` failed.
    """

    def __init__(self, take: Callable[[], ConnectionSplit], delay: float) -> None:
        self._take = take
        self._timer = threading.Timer(delay, self._run)
        self._timer.daemon = True
        self.result: ConnectionSplit | None = None
        self.error: str | None = None

    def _run(self) -> None:
        try:
            self.result = self._take()
        except OSError as error:
            self.error = str(error)

    def __enter__(self) -> MidRunSample:
        self._timer.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self._timer.cancel()
        self._timer.join()
