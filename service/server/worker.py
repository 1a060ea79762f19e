"""The gunicorn worker class (service/gunicorn.conf.py): uvicorn's, plus what this service adds to it.

- The HTTP protocol with header and body timeouts (service.server.protocol), from the settings.
- The graceful timeout, handed to the shutdown notice (service.server.shutdown), so streams still open
  when it runs out end with an error event instead of being cut.
"""

from __future__ import annotations

from uvicorn_worker import UvicornWorker  # type: ignore[import-untyped]

from service.logging import configure_logging
from service.server.protocol import timed_protocol
from service.server.shutdown import NOTICE
from service.settings import get_settings


class Worker(UvicornWorker):  # type: ignore[misc]  # untyped base
    def init_process(self) -> None:
        # In the worker process, after the fork: the uvicorn config is loaded only when the server starts.
        settings = get_settings()
        # uvicorn-worker pointed uvicorn's loggers at gunicorn's handlers when this worker was made; the
        # app (preloaded in the master) logged its own way before that. Route them all through ours again.
        configure_logging(settings.log_level)
        self.config.http = timed_protocol(
            header_timeout_seconds=settings.request_header_timeout_seconds,
            body_timeout_seconds=settings.request_body_timeout_seconds,
        )
        NOTICE.configure(grace_seconds=self.cfg.graceful_timeout)
        super().init_process()
