"""`python -m service.stub --port 8081 [--api-key KEY ...] [--ttft-ms X] [--tokens-per-second Y] ...`"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from collections.abc import Sequence

import uvloop
from aiohttp import web

from service.stub.app import create_app
from service.stub.state import Knobs
from service.stub.text import DEFAULT_REPLY_TOKENS

# In-flight requests (hangs, long streams) get this long to finish after SIGTERM.
SHUTDOWN_SECONDS = 1.0


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m service.stub", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8081)
    parser.add_argument("--api-key", action="append", default=[], help="accepted key (repeatable); none: accept any")
    parser.add_argument("--ttft-ms", type=float, default=0.0, help="streaming: delay before the first chunk")
    parser.add_argument("--tokens-per-second", type=float, default=0.0, help="streaming pace; 0 = unpaced")
    parser.add_argument("--latency-ms", type=float, default=0.0, help="non-streaming: delay before answering")
    parser.add_argument("--moderation-marker", default="FLAG_ME", help="moderation flags inputs containing it")
    parser.add_argument("--reply-tokens", type=int, default=DEFAULT_REPLY_TOKENS, help="non-extractive length")
    args = parser.parse_args(argv)
    for name in ("ttft_ms", "tokens_per_second", "latency_ms"):
        if getattr(args, name) < 0:
            parser.error(f"--{name.replace('_', '-')} must be >= 0")
    if args.reply_tokens < 1:
        parser.error("--reply-tokens must be >= 1")
    return args


async def serve(args: argparse.Namespace) -> None:
    knobs = Knobs(
        ttft_ms=args.ttft_ms,
        tokens_per_second=args.tokens_per_second,
        latency_ms=args.latency_ms,
        api_keys=frozenset(args.api_key),
        moderation_marker=args.moderation_marker,
        reply_tokens=args.reply_tokens,
    )
    # handler_cancellation: a client that gives up ends its hang or stream instead of leaking it.
    runner = web.AppRunner(
        create_app(knobs), access_log=None, handler_cancellation=True, shutdown_timeout=SHUTDOWN_SECONDS
    )
    await runner.setup()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    try:
        try:
            await web.TCPSite(runner, args.host, args.port, backlog=1024).start()
        except OSError as error:
            sys.exit(f"stub: cannot listen on {args.host}:{args.port}: {error}")
        print(f"stub listening on http://{args.host}:{args.port}", flush=True)
        await stop.wait()
    finally:
        await runner.cleanup()


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(serve(args))


if __name__ == "__main__":
    main()
