"""The load generator: per-request bodies (bench/wrk.lua) against the stub, which records what it received."""

from __future__ import annotations

import json

import pytest

from bench.scenarios import Scenario
from bench.wrk import TAG_MARKER, run_load
from service.stub.testing import run_stub

SCENARIO = Scenario("non-streaming", 2)


def _prompts(recent: list[dict[str, object]]) -> list[str]:
    return [json.dumps(request["body"]) for request in recent if request["path"] == "/v1/chat/completions"]


def test_a_varied_load_sends_no_body_twice_and_no_marker() -> None:
    with run_stub() as stub:
        body = SCENARIO.body(cacheable=True, tag=TAG_MARKER)
        result = run_load(f"{stub.base_url}/chat/completions", body, connections=2, seconds=1, varied=True)
        prompts = _prompts(stub.stats()["recent"])
    assert result.requests > 10
    assert result.errors == 0
    assert len(prompts) > 10
    assert len(set(prompts)) == len(prompts)
    assert not any(TAG_MARKER in prompt for prompt in prompts)


def test_a_fixed_load_sends_the_same_body_every_time() -> None:
    with run_stub() as stub:
        body = SCENARIO.body(cacheable=True)
        result = run_load(f"{stub.base_url}/chat/completions", body, connections=2, seconds=1)
        prompts = _prompts(stub.stats()["recent"])
    assert result.requests > 10
    assert set(prompts) == {json.dumps(body)}


def test_a_varied_load_without_the_marker_is_refused() -> None:
    with pytest.raises(ValueError, match="needs"):
        run_load(
            "http://127.0.0.1:9/chat/completions", SCENARIO.body(cacheable=True), connections=1, seconds=1, varied=True
        )
