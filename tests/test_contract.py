"""The values service/ and infra/ share (service.contract) are really used by the service side.

The infrastructure side is checked against the same module in tests/infra/.
"""

from __future__ import annotations

import re
import runpy
from pathlib import Path
from typing import Any

import pytest

from service.contract import (
    CONTAINER_PORT,
    CONTAINER_UID,
    DEFAULT_BUDGET,
    HEALTH_PATH,
    READY_PATH,
    Env,
    StreamingBudget,
)
from service.main import create_app
from service.settings import Settings

REPO = Path(__file__).resolve().parents[1]
GUNICORN_ONLY = {Env.WEB_CONCURRENCY, Env.GRACEFUL_TIMEOUT}
AWS_SDK_ONLY = {Env.AWS_REGION}  # also read by boto3 itself


def _env_names() -> set[str]:
    return {v for k, v in vars(Env).items() if not k.startswith("_")}


def _gunicorn_config(monkeypatch: pytest.MonkeyPatch, **env: str) -> dict[str, Any]:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return runpy.run_path(str(REPO / "service" / "gunicorn.conf.py"))


def test_every_contract_variable_is_read_by_the_service(monkeypatch: pytest.MonkeyPatch) -> None:
    aliases = {str(field.validation_alias) for field in Settings.model_fields.values() if field.validation_alias}
    assert _env_names() - GUNICORN_ONLY <= aliases | AWS_SDK_ONLY
    config = _gunicorn_config(monkeypatch, **{Env.WEB_CONCURRENCY: "7", Env.GRACEFUL_TIMEOUT: "33", Env.PORT: "9123"})
    assert (config["workers"], config["graceful_timeout"]) == (7, 33)
    assert config["bind"].endswith(":9123")


def test_server_defaults_come_from_the_streaming_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (Env.PORT, Env.GRACEFUL_TIMEOUT, Env.MAX_STREAM_SECONDS, Env.SSE_HEARTBEAT_SECONDS):
        monkeypatch.delenv(name, raising=False)
    config = _gunicorn_config(monkeypatch)
    assert config["bind"].endswith(f":{CONTAINER_PORT}")
    assert config["graceful_timeout"] == DEFAULT_BUDGET.graceful_timeout_seconds >= DEFAULT_BUDGET.max_stream_seconds
    assert config["keepalive"] > DEFAULT_BUDGET.alb_idle_timeout_seconds
    settings = Settings()
    assert settings.max_stream_seconds == DEFAULT_BUDGET.max_stream_seconds
    assert settings.sse_heartbeat_seconds == DEFAULT_BUDGET.heartbeat_seconds
    assert settings.port == CONTAINER_PORT


def test_gunicorn_budget_follows_max_stream_seconds(monkeypatch: pytest.MonkeyPatch) -> None:
    config = _gunicorn_config(monkeypatch, **{Env.MAX_STREAM_SECONDS: "40"})
    assert config["graceful_timeout"] == StreamingBudget(max_stream_seconds=40).graceful_timeout_seconds


def test_health_paths_are_served() -> None:
    paths = set(create_app(Settings()).openapi()["paths"])
    assert {HEALTH_PATH, READY_PATH} <= paths


def test_dockerfile_exposes_the_contract_port_and_checks_the_health_path() -> None:
    dockerfile = (REPO / "Dockerfile").read_text()
    assert re.search(rf"^EXPOSE {CONTAINER_PORT}$", dockerfile, re.MULTILINE)
    assert re.search(rf"^\s+PORT={CONTAINER_PORT}\b", dockerfile, re.MULTILINE)
    assert HEALTH_PATH in dockerfile
    assert f"groupadd --gid {CONTAINER_UID} " in dockerfile
    assert f"useradd --uid {CONTAINER_UID} --gid {CONTAINER_UID} " in dockerfile
    assert re.search(rf"^USER {CONTAINER_UID}:{CONTAINER_UID}$", dockerfile, re.MULTILINE)


def test_default_budget_is_consistent_and_an_impossible_one_is_refused() -> None:
    DEFAULT_BUDGET.validate()
    with pytest.raises(ValueError, match="set maxStreamSeconds to 105 or less"):
        StreamingBudget(max_stream_seconds=200).validate()


@pytest.mark.parametrize("max_stream", [1, 30, DEFAULT_BUDGET.max_stream_seconds, 105])
def test_the_margins_around_the_stream_budget_keep_their_order(max_stream: int) -> None:
    budget = StreamingBudget(max_stream_seconds=max_stream)
    # The ALB closes idle connections before gunicorn does; a cache fill's lock outlives the slowest call
    # it waits for (a call's deadline is the stream budget).
    assert budget.keepalive_seconds > budget.alb_idle_timeout_seconds
    assert budget.max_stream_seconds < budget.cache_fill_lock_seconds
