"""Fixtures every test can use: the stub upstream and the service, both as real processes."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path

import pytest

from service.stub.testing import StubServer, run_stub
from tests.support.service import ServiceProcess, run_service

pytest_plugins = ["tests.support.redis", "tests.support.moto"]

# A fake key the stub is told to accept: long enough to be scrubbed from logs like a real one.
UPSTREAM_KEY = "sk-test-upstream-0123456789"


@pytest.fixture(scope="session")
def stub_server() -> Iterator[StubServer]:
    with run_stub(api_key=[UPSTREAM_KEY]) as server:
        yield server


@pytest.fixture
def stub(stub_server: StubServer) -> Iterator[StubServer]:
    """The shared stub, reset for this test and again after it, so knobs a test changes (accepted
    keys, latency, faults) never reach a later test that uses the service without this fixture."""
    stub_server.reset()
    yield stub_server
    stub_server.reset()


def service_env(stub: StubServer, **overrides: str) -> dict[str, str]:
    env = {
        "OPENAI_API_KEY": UPSTREAM_KEY,
        "OPENAI_BASE_URL": stub.base_url,
        "UPSTREAM_MAX_RETRIES": "2",
        "LOG_LEVEL": "info",
    }
    env.update(overrides)
    return env


@pytest.fixture(scope="session")
def service(stub_server: StubServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServiceProcess]:
    """The service with default settings, 2 workers, local mode (`local-dev-key`), against the stub."""
    with run_service(tmp_path_factory.mktemp("service"), service_env(stub_server)) as process:
        yield process


ServiceFactory = Callable[..., AbstractContextManager[ServiceProcess]]


@pytest.fixture
def make_service(stub_server: StubServer, tmp_path: Path) -> ServiceFactory:
    """Start a service with extra settings: `with make_service(MAX_N="2") as svc: ...`."""

    def factory(workers: int = 2, **env: str) -> AbstractContextManager[ServiceProcess]:
        return run_service(tmp_path, service_env(stub_server, **env), workers=workers)

    return factory
