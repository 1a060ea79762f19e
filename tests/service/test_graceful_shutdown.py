"""SIGTERM (what ECS sends on scale-in or deploy) lets an in-flight stream finish, or say why it cannot."""

from __future__ import annotations

import json
import signal
import time

import httpx2
import openai
import pytest

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


def test_a_stream_outliving_the_graceful_timeout_ends_with_an_error_event(
    make_service: ServiceFactory, stub: StubServer
) -> None:
    stub.configure(tokens_per_second=5, reply_tokens=200)  # forty seconds of streaming
    with make_service(workers=1, GRACEFUL_TIMEOUT="3") as svc:
        body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "a long story"}], "stream": True}
        lines: list[str] = []
        with httpx2.stream(
            "POST",
            f"{svc.base_url}/chat/completions",
            json=body,
            headers={"Authorization": f"Bearer {svc.api_key}"},
            timeout=30,
        ) as response:
            try:
                for line in response.iter_lines():
                    lines.append(line)
                    if len(lines) == 4:
                        svc.terminate(signal.SIGTERM)
                        stopped_at = time.monotonic()
            except httpx2.TransportError:
                pass  # a cut connection: what this test exists to rule out
        ended_after = time.monotonic() - stopped_at
        svc.process.wait(30)
        logs = svc.logs()

    events = [line.removeprefix("data: ") for line in lines if line.startswith("data: ")]
    error = json.loads(events[-1])["error"]
    assert error["code"] == "server_shutting_down"
    assert error["type"] == "server_error"
    assert ended_after < 3  # before the graceful timeout ran out
    assert '"event":"stream_ended_for_shutdown"' in logs


def test_the_sdk_raises_the_shutdown_event_so_clients_can_retry(make_service: ServiceFactory, stub: StubServer) -> None:
    stub.configure(tokens_per_second=5, reply_tokens=200)
    with make_service(workers=1, GRACEFUL_TIMEOUT="2") as svc:
        stream = svc.client().chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "a long story"}], stream=True
        )

        def read_all_stopping_the_server_mid_way() -> None:
            for index, _ in enumerate(stream):
                if index == 2:
                    svc.terminate(signal.SIGTERM)

        with pytest.raises(openai.APIError, match="shutting down"):
            read_all_stopping_the_server_mid_way()
