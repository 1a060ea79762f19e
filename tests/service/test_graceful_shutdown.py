"""SIGTERM (what ECS sends on scale-in or deploy) lets an in-flight stream finish."""

from __future__ import annotations

import signal

import httpx2

from service.stub.testing import StubServer
from tests.conftest import ServiceFactory


def test_stream_in_flight_finishes_after_sigterm(make_service: ServiceFactory, stub: StubServer) -> None:
    stub.configure(tokens_per_second=10, reply_tokens=20)  # about two seconds of streaming
    with make_service(workers=1) as svc:
        body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "tell me a story"}], "stream": True}
        lines: list[str] = []
        with httpx2.stream(
            "POST",
            f"{svc.base_url}/chat/completions",
            json=body,
            headers={"Authorization": f"Bearer {svc.api_key}"},
            timeout=30,
        ) as response:
            for line in response.iter_lines():
                lines.append(line)
                if len(lines) == 4:  # the stream is under way: stop the server now
                    svc.terminate(signal.SIGTERM)
        exit_code = svc.process.wait(30)
        # New connections are refused once shutdown has begun.
        try:
            httpx2.get(f"{svc.url}/healthz", timeout=2)
            refused = False
        except httpx2.TransportError:
            refused = True

    events = [line for line in lines if line.startswith("data: ")]
    assert events[-1] == "data: [DONE]"
    assert len(events) >= 20  # every token arrived
    assert exit_code == 0
    assert refused
