"""Where the questions go: the app in this process (against the stub or OpenAI), or a served URL."""

from __future__ import annotations

import json
import os
import tempfile
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx2

from evals.datasets import Example

STUB_KEY = "stub-key-not-a-real-openai-key"


@dataclass
class Observation:
    """What the system did with one example."""

    example: Example
    model: str
    ranked_documents: list[str] = field(default_factory=list)  # context chunks' documents, best first, deduplicated
    answer: str = ""
    found: bool = False
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    latency_ms: float = 0.0
    ttft_ms: float | None = None  # streamed runs: until the first model chunk (context event excluded)
    cached: bool = False
    error: str | None = None


def documents_of(context: Sequence[dict[str, Any]]) -> list[str]:
    return list(dict.fromkeys(str(item["document_id"]) for item in context))


class AnswersClient:
    def __init__(self, http: httpx2.AsyncClient, api_key: str, *, use_cache: bool, stream: bool = False) -> None:
        self._http = http
        self._stream = stream
        self._headers = {"Authorization": f"Bearer {api_key}"}
        if not use_cache:  # a fresh answer (real latency and cost), stored for the next run
            self._headers["Cache-Control"] = "no-cache"

    async def ask(self, example: Example, model: str, top_k: int) -> Observation:
        observation = Observation(example, model)
        started = time.perf_counter()
        request = {"question": example.question, "model": model, "top_k": top_k}
        try:
            if self._stream:
                body = await self._ask_streamed(request, observation, started)
            else:
                response = await self._http.post("/v1/answers", json=request, headers=self._headers)
                body = response.json() if response.status_code == 200 else None
                if body is None:
                    observation.error = f"HTTP {response.status_code}: {response.text[:200]}"
        except httpx2.HTTPError as exc:
            observation.error = f"{type(exc).__name__}: {exc}"
            return observation
        observation.latency_ms = (time.perf_counter() - started) * 1000
        if body is None:
            return observation
        usage = body.get("usage") or {}
        observation.ranked_documents = documents_of(body.get("context") or [])
        observation.answer = str(body.get("answer") or "")
        observation.found = bool(body.get("found"))
        observation.prompt_tokens = int(usage.get("prompt_tokens") or 0)
        observation.completion_tokens = int(usage.get("completion_tokens") or 0)
        observation.cost_usd = float(body.get("cost_usd") or 0.0)
        observation.cached = bool(body.get("cached"))
        return observation

    async def _ask_streamed(
        self, request: dict[str, Any], observation: Observation, started: float
    ) -> dict[str, Any] | None:
        """The SSE answer: time to the first model chunk, then the final `answer` event's payload."""
        async with self._http.stream(
            "POST", "/v1/answers", json={**request, "stream": True}, headers=self._headers
        ) as response:
            if response.status_code != 200:
                observation.error = f"HTTP {response.status_code}: {(await response.aread())[:200]!r}"
                return None
            async for line in response.aiter_lines():
                if not line.startswith("data: {"):
                    continue
                data = json.loads(line[len("data: ") :])
                if data.get("object") == "chat.completion.chunk" and observation.ttft_ms is None:
                    observation.ttft_ms = (time.perf_counter() - started) * 1000
                elif data.get("object") == "answer":
                    return dict(data)
                elif "error" in data:
                    observation.error = f"stream error: {data['error'].get('message')}"
                    return None
        observation.error = "the stream ended without an answer event"
        return None


@asynccontextmanager
async def in_process(
    upstream: str, models: Sequence[str], index_dir: Path | None = None
) -> AsyncIterator[httpx2.AsyncClient]:
    """The app, lifespan and all, served through ASGI in this process; `upstream` is "stub" or "openai"."""
    from service.main import create_app  # noqa: PLC0415 - only this target needs the service
    from service.settings import Settings  # noqa: PLC0415
    from service.stub.testing import run_stub  # noqa: PLC0415

    async with AsyncExitStack() as stack:
        overrides: dict[str, Any] = {
            "environment": "local",
            "log_level": "warning",
            "answers_index_dir": index_dir or Path(tempfile.gettempdir()) / "answers-index-evals",
            "allowed_models": list(dict.fromkeys([*Settings().allowed_models, *models])),
            "client_api_keys": {},
        }
        if upstream == "stub":
            stub = stack.enter_context(run_stub())
            overrides |= {"openai_base_url": stub.base_url, "openai_api_key": STUB_KEY}
        elif not os.environ.get("OPENAI_API_KEY"):
            raise SystemExit("--target openai needs OPENAI_API_KEY")
        app = create_app(Settings(**overrides))
        await stack.enter_async_context(app.router.lifespan_context(app))
        transport = httpx2.ASGITransport(app=app)
        yield await stack.enter_async_context(
            httpx2.AsyncClient(transport=transport, base_url="http://evals", timeout=120)
        )


@asynccontextmanager
async def served(url: str) -> AsyncIterator[httpx2.AsyncClient]:
    async with httpx2.AsyncClient(base_url=url.rstrip("/"), timeout=120) as client:
        yield client
