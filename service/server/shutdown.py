"""The shutdown notice: when this process began shutting down, and so when open streams must end.

On SIGTERM (ECS scaling in, a deploy) gunicorn gives in-flight requests its graceful timeout, then kills
the workers. A stream still running then would end without a word, and a client could not tell a cut
from a finished answer. So each worker learns the moment SIGTERM arrives, and shortly before its time
is up every open stream ends with an OpenAI-shaped `server_shutting_down` error event (the SDK raises
it), which tells the client to retry, and the connection closes cleanly.

Signals belong to the process, so there is one notice per process (`NOTICE`): the gunicorn worker gives
it the graceful timeout, the app's lifespan chains it onto the server's own SIGTERM handler.
"""

from __future__ import annotations

import asyncio
import signal
import threading
from types import FrameType
from typing import Any

import structlog

log = structlog.get_logger(__name__)

# Streams end this long before the graceful timeout does (at most a quarter of it), so the error event
# and the connection's close are sent before the worker is killed.
CUT_MARGIN_SECONDS = 2.0


class ShutdownNotice:
    def __init__(self) -> None:
        self.grace_seconds: float | None = None  # None: no deadline (not under gunicorn), streams are never cut
        self._loop: asyncio.AbstractEventLoop | None = None
        self._previous: Any = None
        self.cut: asyncio.Future[None] | None = None  # done when open streams must end

    def configure(self, *, grace_seconds: float) -> None:
        self.grace_seconds = grace_seconds

    @property
    def cut_after_seconds(self) -> float | None:
        if self.grace_seconds is None:
            return None
        return max(0.0, self.grace_seconds - min(CUT_MARGIN_SECONDS, self.grace_seconds / 4))

    def install(self) -> None:
        """Chain onto the server's SIGTERM handler (uvicorn installs its own before the lifespan starts)."""
        self._loop = asyncio.get_running_loop()
        self.cut = self._loop.create_future()
        if threading.current_thread() is not threading.main_thread():
            return
        previous = signal.getsignal(signal.SIGTERM)
        if not callable(previous):  # no server handler to chain onto (an in-process run): nothing to announce
            return
        self._previous = previous
        signal.signal(signal.SIGTERM, self._on_sigterm)

    def uninstall(self) -> None:
        if self._previous is not None and signal.getsignal(signal.SIGTERM) == self._on_sigterm:
            signal.signal(signal.SIGTERM, self._previous)
        self._previous = None

    def _on_sigterm(self, signum: int, frame: FrameType | None) -> None:
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self.begin)
        self._previous(signum, frame)

    def begin(self) -> None:
        """Shutdown has begun: open streams end `cut_after_seconds` from now."""
        delay = self.cut_after_seconds
        if self._loop is None or self.cut is None or delay is None:
            return
        log.info("shutdown_notice", streams_end_in_seconds=round(delay, 3))
        self._loop.call_later(delay, self._cut)

    def _cut(self) -> None:
        if self.cut is not None and not self.cut.done():
            self.cut.set_result(None)


NOTICE = ShutdownNotice()
