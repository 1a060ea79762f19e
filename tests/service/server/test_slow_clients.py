"""Slow clients are cut (headers, then body, each on its own clock) while normal clients are served."""

from __future__ import annotations

import asyncio
import time

import openai

from service.stub.testing import HOST, StubServer
from tests.conftest import ServiceFactory

TRICKLERS = 200  # what the abuse campaign used
SLOW_BODIES = 20
GIVE_UP_SECONDS = 6.0  # how long a trickler keeps going if nobody cuts it
HEAD = b"POST /v1/chat/completions HTTP/1.1\r\nHost: test\r\n"


async def _trickle(port: int, first: bytes, drip: bytes) -> tuple[float, bytes] | None:
    """Send `first`, then `drip` every 0.2 s; how long until the server answered or closed (None: it never did)."""
    reader, writer = await asyncio.open_connection(HOST, port)
    started = time.monotonic()
    writer.write(first)
    outcome: tuple[float, bytes] | None = None
    try:
        while outcome is None and time.monotonic() - started < GIVE_UP_SECONDS:
            try:
                data = await asyncio.wait_for(reader.read(4096), 0.2)
            except TimeoutError:
                writer.write(drip)
            else:
                outcome = (time.monotonic() - started, data)
    except ConnectionError:
        outcome = (time.monotonic() - started, b"")
    finally:
        writer.close()
    return outcome


async def _normal_clients(client: openai.AsyncOpenAI) -> list[str]:
    answers = []
    for _ in range(20):
        completion = await client.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}]
        )
        answers.append(completion.choices[0].message.content or "")
    return answers


def test_slow_senders_are_cut_while_normal_clients_are_served(make_service: ServiceFactory, stub: StubServer) -> None:
    with make_service(workers=1, REQUEST_HEADER_TIMEOUT_SECONDS="1", REQUEST_BODY_TIMEOUT_SECONDS="1") as svc:
        body_head = HEAD + (
            b"Authorization: Bearer " + svc.api_key.encode() + b"\r\nContent-Type: application/json\r\n"
            b"X-Request-ID: slow-body\r\nContent-Length: 1000\r\n\r\n"
        )

        async def main() -> tuple[list[tuple[float, bytes] | None], list[tuple[float, bytes] | None], list[str]]:
            headers = [_trickle(svc.port, HEAD, b"X-Slow: y\r\n") for _ in range(TRICKLERS)]
            bodies = [_trickle(svc.port, body_head + b'{"messages": [', b" ") for _ in range(SLOW_BODIES)]
            results = await asyncio.gather(
                asyncio.gather(*headers), asyncio.gather(*bodies), _normal_clients(svc.async_client(timeout=10))
            )
            return results[0], results[1], results[2]

        slow_headers, slow_bodies, answered = asyncio.run(main())
        logs = svc.logs()

    assert len(answered) == 20
    assert all(answered)
    for outcome in slow_headers + slow_bodies:
        assert outcome is not None, "a slow sender kept its connection open"
        seconds, data = outcome
        assert seconds < 3.5
        assert data.startswith(b"HTTP/1.1 408"), data[:80]
        assert b'"code":"request_timeout"' in data
        assert b"x-request-id: " in data
    assert logs.count('"event":"request_header_timeout"') == TRICKLERS
    slow_body_lines = [line for line in logs.splitlines() if '"request_id":"slow-body"' in line]
    assert any('"status":408' in line and '"event":"request"' in line for line in slow_body_lines)
