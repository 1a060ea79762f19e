"""One stub process per test module, reset before every test that uses it."""

from __future__ import annotations

from collections.abc import Iterator

import openai
import pytest

from service.stub.testing import StubServer, run_stub

API_KEY = "sk-stub-test-key"


@pytest.fixture(scope="module")
def stub_process() -> Iterator[StubServer]:
    with run_stub(api_key=[API_KEY]) as server:
        yield server


@pytest.fixture
def stub(stub_process: StubServer) -> StubServer:
    stub_process.reset()
    return stub_process


@pytest.fixture
def client(stub: StubServer) -> openai.OpenAI:
    # No retries unless a test asks for them, so request counts are exact.
    return openai.OpenAI(base_url=stub.base_url, api_key=API_KEY, max_retries=0, timeout=10)
