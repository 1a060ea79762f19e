"""The relay's transport against the stub over a real socket: retries, one deadline, headers, key refresh.

Each behaviour the SDK used to give the relayed endpoints has a test here; the backoff arithmetic itself
is checked in-process (`RetryPolicy`), the rest against the stub with its scripted faults.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import pytest
from hypothesis import given
from hypothesis import strategies as st

from service.errors import UpstreamError, UpstreamTimeout
from service.request_context import close_request, open_request
from service.stub.testing import StubServer, free_port
from service.upstream.errors import UpstreamRateLimited, UpstreamRejected
from service.upstream.keys import OpenAIKeySource
from service.upstream.transport import Deadline, OpenAITransport, RetryPolicy, TransportConfig
from tests.conftest import UPSTREAM_KEY

CHAT = "/v1/chat/completions"
PARAMS = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}
T = TypeVar("T")


class RotatingKey(OpenAIKeySource):
    """A key source whose refresh finds a new key (as Secrets Manager after a rotation)."""

    def __init__(self, old: str, new: str) -> None:
        super().__init__(old)
        self.new = new
        self.refreshes = 0

    async def refresh(self) -> bool:
        self.refreshes += 1
        self._key = self.new
        return True


def _transport(base_url: str, keys: OpenAIKeySource | None = None, **config: Any) -> OpenAITransport:
    settings: dict[str, Any] = {
        "base_url": base_url,
        "organization": None,
        "project": None,
        "connect_timeout_seconds": 2.0,
        "retry": RetryPolicy(max_retries=2),
        "environment": "test",
    } | config
    return OpenAITransport(TransportConfig(**settings), keys or OpenAIKeySource(UPSTREAM_KEY))


def _run(transport: OpenAITransport, work: Callable[[], Awaitable[T]]) -> tuple[T, dict[str, Any]]:
    """Run `work` as one request would (its log fields collected), then close the transport."""

    async def main() -> tuple[T, dict[str, Any]]:
        current, token = open_request()
        try:
            return await work(), current.fields
        finally:
            close_request(token)
            await transport.aclose()

    return asyncio.run(main())


def _send(transport: OpenAITransport, seconds: float = 10.0) -> Callable[[], Awaitable[bytes]]:
    async def send() -> bytes:
        response = await transport.send("/chat/completions", PARAMS, Deadline.after(seconds))
        return await response.read()

    return send


# --- the backoff policy -------------------------------------------------------------------------------------
@given(retries_done=st.integers(0, 10))
def test_backoff_is_full_jitter_under_a_doubling_capped_ceiling(retries_done: int) -> None:
    policy = RetryPolicy(max_retries=10)
    ceiling = min(policy.max_delay_seconds, policy.initial_delay_seconds * 2**retries_done)
    delays = [policy.delay(retries_done, {}) for _ in range(50)]
    assert all(0 <= d <= ceiling for d in delays)
    assert len(set(delays)) > 1  # jittered, not a fixed schedule


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"retry-after-ms": "250", "retry-after": "9"}, 0.25),  # milliseconds first, as the SDK reads them
        ({"retry-after": "3"}, 3.0),
    ],
)
def test_backoff_honours_retry_after(headers: dict[str, str], expected: float) -> None:
    assert RetryPolicy(max_retries=2).delay(0, headers) == expected


@pytest.mark.parametrize("headers", [{"retry-after": "120"}, {"retry-after": "0"}, {"retry-after": "soon"}])
def test_retry_after_outside_zero_to_sixty_seconds_falls_back_to_backoff(headers: dict[str, str]) -> None:
    assert RetryPolicy(max_retries=2).delay(0, headers) <= 0.5


def test_x_should_retry_overrides_the_status() -> None:
    policy = RetryPolicy(max_retries=2)
    assert not policy.should_retry(503, {"x-should-retry": "false"})
    assert policy.should_retry(400, {"x-should-retry": "true"})
    assert policy.should_retry(409, {})
    assert policy.should_retry(408, {})
    assert not policy.should_retry(404, {})


# --- against the stub ---------------------------------------------------------------------------------------
def test_two_429s_are_retried_after_the_wait_openai_asked_for(stub: StubServer) -> None:
    stub.faults([{"path": CHAT, "status": 429, "retry_after_ms": 30, "count": 2}])
    transport = _transport(stub.base_url)
    started = time.monotonic()
    body, fields = _run(transport, _send(transport))
    assert b"chat.completion" in body
    assert fields["upstream_retries"] == 2
    assert stub.requests_to(CHAT) == 3
    assert time.monotonic() - started >= 0.06  # both waits were taken, as asked


def test_retries_are_capped_and_the_last_429_is_passed_on(stub: StubServer) -> None:
    stub.faults([{"path": CHAT, "status": 429, "retry_after_ms": 10, "count": 5}])
    transport = _transport(stub.base_url)
    with pytest.raises(UpstreamRateLimited) as refused:
        _run(transport, _send(transport))
    assert stub.requests_to(CHAT) == 3  # the first try and max_retries=2
    assert refused.value.retry_after_seconds == pytest.approx(0.01)


def test_a_wait_that_would_pass_the_deadline_is_not_taken(stub: StubServer) -> None:
    stub.faults([{"path": CHAT, "status": 503, "retry_after_ms": 5000, "count": 3}])
    transport = _transport(stub.base_url)
    with pytest.raises(UpstreamError) as failed:
        _run(transport, _send(transport, seconds=2.0))
    assert failed.value.status_code == 502
    assert stub.requests_to(CHAT) == 1


def test_a_hung_upstream_gets_its_504_at_the_deadline_not_after_each_retry(stub: StubServer) -> None:
    stub.faults([{"path": CHAT, "status": 500}, {"path": CHAT, "hang": True, "count": 3}])
    transport = _transport(stub.base_url)
    started = time.monotonic()
    with pytest.raises(UpstreamTimeout, match="within 1s"):
        _run(transport, _send(transport, seconds=1.0))
    elapsed = time.monotonic() - started
    assert 1.0 <= elapsed < 2.0  # one budget for the request, whatever the retries (the SDK's was per attempt)
    assert stub.requests_to(CHAT) == 2


def test_a_body_that_stops_arriving_is_a_504_at_the_deadline(stub: StubServer) -> None:
    stub.faults([{"path": CHAT, "stall_after_chunks": 1, "stall_ms": 5000}])
    transport = _transport(stub.base_url)

    async def read_stream() -> bytes:
        response = await transport.send("/chat/completions", {**PARAMS, "stream": True}, Deadline.after(0.5))
        return await response.read()

    with pytest.raises(UpstreamTimeout):
        _run(transport, read_stream)


def test_organisation_and_project_headers_are_sent(stub: StubServer) -> None:
    transport = _transport(stub.base_url, organization="org-transport", project="proj_transport")
    _run(transport, _send(transport))
    headers = stub.last_request(CHAT)["headers"]
    assert headers["openai-organization"] == "org-transport"
    assert headers["openai-project"] == "proj_transport"


def test_after_a_401_the_key_is_read_again_and_the_call_retried_once(stub: StubServer) -> None:
    old, new = "sk-transport-old-key-aaaa", "sk-transport-new-key-bbbb"
    stub.configure(api_keys=[new])
    keys = RotatingKey(old, new)
    transport = _transport(stub.base_url, keys)
    body, _ = _run(transport, _send(transport))
    assert b"chat.completion" in body
    assert keys.refreshes == 1
    sent = [r["headers"]["authorization"] for r in stub.stats()["recent"] if r["path"] == CHAT]
    assert sent == [f"...{old[-4:]}", f"...{new[-4:]}"]


def test_a_key_openai_refuses_is_a_502_that_never_shows_it(
    stub: StubServer, capsys: pytest.CaptureFixture[str]
) -> None:
    key = "sk-transport-refused-key-cccc"
    stub.configure(api_keys=["sk-some-other-key-dddd"])
    transport = _transport(stub.base_url, OpenAIKeySource(key))
    with pytest.raises(UpstreamError) as failed:
        _run(transport, _send(transport))
    assert failed.value.code == "upstream_auth_failed"
    assert key not in failed.value.message
    assert key not in capsys.readouterr().err


def test_openai_refusing_the_request_keeps_its_status_message_and_param(stub: StubServer) -> None:
    stub.faults([{"path": CHAT, "status": 404, "message": "The model `x` does not exist", "code": "model_not_found",
                  "param": "model"}])  # fmt: skip
    transport = _transport(stub.base_url)
    with pytest.raises(UpstreamRejected) as rejected:
        _run(transport, _send(transport))
    assert (rejected.value.status_code, rejected.value.code, rejected.value.param) == (404, "model_not_found", "model")
    assert stub.requests_to(CHAT) == 1  # a 404 is not retried


def test_an_unreachable_upstream_is_a_502_after_the_retries() -> None:
    transport = _transport(
        f"http://127.0.0.1:{free_port()}/v1", retry=RetryPolicy(max_retries=1, initial_delay_seconds=0.01)
    )
    with pytest.raises(UpstreamError) as failed:
        _run(transport, _send(transport))
    assert failed.value.code == "upstream_unreachable"
