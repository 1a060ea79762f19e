"""A log sample recorded from the real service: a known mix of requests, then the lines it wrote.

Used by the metric tests (EMF records) and the Logs Insights query tests (request lines), so both
check what the service really writes, not a hand-made copy of it.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2
import openai

from service.settings import hash_client_key
from service.stub.testing import StubServer
from tests.conftest import service_env
from tests.support.service import run_service

TEAM_A_KEY = "svc-team-a-observability-key"
TEAM_B_KEY = "svc-team-b-observability-key"
CHAT = [{"role": "user", "content": "Say something about observability"}]


@dataclass
class Recording:
    lines: list[dict[str, Any]]
    request_ids: dict[str, str]  # what each scripted request was, -> the X-Request-ID it got

    @property
    def requests(self) -> list[dict[str, Any]]:
        return [line for line in self.lines if line.get("event") == "request"]

    @property
    def emf(self) -> list[dict[str, Any]]:
        return [line for line in self.lines if "_aws" in line]

    def request_line(self, name: str) -> dict[str, Any]:
        return next(line for line in self.requests if line["request_id"] == self.request_ids[name])

    def emf_of(self, name: str) -> dict[str, Any]:
        return next(line for line in self.emf if line.get("request_id") == self.request_ids[name])


def _client(base_url: str, key: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=base_url, api_key=key, max_retries=0, timeout=30)


def record(stub: StubServer, log_dir: Path) -> Iterator[Recording]:
    """Start a keyed service, send the scripted requests, yield what it logged; stops the service after."""
    keys = json.dumps({hash_client_key(TEAM_A_KEY): "team-a", hash_client_key(TEAM_B_KEY): "team-b"})
    env = service_env(stub, CLIENT_API_KEYS=keys, ENVIRONMENT="local")
    with run_service(log_dir, env, workers=1) as svc:
        ids: dict[str, str] = {}
        a, b = _client(svc.base_url, TEAM_A_KEY), _client(svc.base_url, TEAM_B_KEY)
        for name, client in (("miss", a), ("hit", a)):
            raw = client.chat.completions.with_raw_response.create(model="gpt-4o-mini", messages=CHAT, temperature=0)
            ids[name] = raw.headers["x-request-id"]
        with b.chat.completions.with_streaming_response.create(
            model="gpt-4o", messages=CHAT, stream=True, stream_options={"include_usage": True}
        ) as streamed:
            ids["stream"] = streamed.headers["x-request-id"]
            for _ in streamed.iter_lines():
                pass
        stub.faults([{"status": 500, "count": 1, "path": "/v1/chat/completions"}])
        raw = b.chat.completions.with_raw_response.create(model="gpt-4o-mini", messages=CHAT)
        ids["retried"] = raw.headers["x-request-id"]
        stub.faults([{"status": 503, "count": 3, "path": "/v1/chat/completions"}])
        failed = httpx2.post(
            f"{svc.base_url}/chat/completions",
            headers={"Authorization": f"Bearer {TEAM_A_KEY}"},
            json={"model": "gpt-4o-mini", "messages": CHAT},
            timeout=30,
        )
        assert failed.status_code == 502, failed.text
        ids["upstream_failed"] = failed.headers["x-request-id"]
        refused = httpx2.post(f"{svc.base_url}/chat/completions", headers={"Authorization": "Bearer wrong"}, json={})
        assert refused.status_code == 401
        ids["unauthenticated"] = refused.headers["x-request-id"]
        invalid = httpx2.post(
            f"{svc.base_url}/chat/completions",
            headers={"Authorization": f"Bearer {TEAM_A_KEY}"},
            json={"model": "gpt-4o-mini", "messages": CHAT, "temperature": "hot"},
        )
        assert invalid.status_code == 400
        ids["invalid"] = invalid.headers["x-request-id"]
        # The log line is written after the last byte is sent: wait until every request has its line.
        yield Recording(_wait_for_lines(svc.logs, set(ids.values())), ids)


def _wait_for_lines(logs: Any, request_ids: set[str]) -> list[dict[str, Any]]:
    deadline = time.monotonic() + 10
    while True:
        lines = [json.loads(line) for line in logs().splitlines() if line.startswith("{")]
        seen = {line.get("request_id") for line in lines if "_aws" in line}
        if request_ids <= seen or time.monotonic() > deadline:
            return lines
        time.sleep(0.05)
