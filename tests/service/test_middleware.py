"""The request id reaches every response and every log line, the unexpected 500 included (in process)."""

from __future__ import annotations

import asyncio
import json
import time

import httpx2
import pytest
from fastapi import APIRouter
from fastapi.responses import JSONResponse, StreamingResponse
from starlette.background import BackgroundTask

from service.main import create_app
from service.settings import Settings


def _app_with_a_bug() -> object:
    app = create_app(Settings(_env_file=None))  # type: ignore[call-arg]
    router = APIRouter()

    @router.get("/bug")
    async def bug() -> None:
        raise RuntimeError("a bug with an internal detail: db.internal:5432")

    @router.get("/bug-mid-stream")
    async def bug_mid_stream() -> StreamingResponse:
        async def events() -> object:
            yield b"data: one\n\n"
            raise RuntimeError("broken after the first event")

        return StreamingResponse(events(), media_type="text/event-stream")

    @router.get("/work-after-the-answer")
    async def work_after_the_answer() -> JSONResponse:
        return JSONResponse({"ok": True}, background=BackgroundTask(asyncio.sleep, AFTER_THE_ANSWER_SECONDS))

    app.include_router(router)
    return app


AFTER_THE_ANSWER_SECONDS = 0.5


def _get(path: str, **headers: str) -> httpx2.Response:
    async def main() -> httpx2.Response:
        transport = httpx2.ASGITransport(app=_app_with_a_bug(), raise_app_exceptions=False)
        async with httpx2.AsyncClient(transport=transport, base_url="http://test") as client:
            return await client.get(path, headers=headers)

    return asyncio.run(main())


def _lines(out: str) -> list[dict[str, object]]:
    """The log lines (EMF metric records, which carry `_aws` and no `event`, left out)."""
    return [record for line in out.splitlines() if line.startswith("{") and "event" in (record := json.loads(line))]


def test_an_unexpected_error_is_a_500_that_carries_the_request_id(capsys: pytest.CaptureFixture[str]) -> None:
    response = _get("/bug", **{"X-Request-ID": "trace-500"})
    assert response.status_code == 500
    assert response.headers["x-request-id"] == "trace-500"
    assert response.json()["error"] == {
        "message": "The server had an error while processing your request.",
        "type": "server_error",
        "param": None,
        "code": None,
    }
    assert "db.internal" not in response.text
    lines = [line for line in _lines(capsys.readouterr().out) if line.get("logger") != "service.state.backend"]
    events = {line["event"] for line in lines}
    assert {"unhandled_error", "request"} <= events
    assert all(line.get("request_id") == "trace-500" for line in lines), lines
    access = next(line for line in lines if line["event"] == "request")
    assert access["status"] == 500


def test_a_generated_request_id_is_returned_on_a_500_too(capsys: pytest.CaptureFixture[str]) -> None:
    response = _get("/bug")
    request_id = response.headers["x-request-id"]
    assert len(request_id) == 32
    assert all(line.get("request_id") == request_id for line in _lines(capsys.readouterr().out))


def test_an_error_after_the_response_started_is_logged_with_the_request_id(capsys: pytest.CaptureFixture[str]) -> None:
    response = _get("/bug-mid-stream", **{"X-Request-ID": "trace-mid-stream"})
    assert response.headers["x-request-id"] == "trace-mid-stream"
    lines = _lines(capsys.readouterr().out)
    failure = next(line for line in lines if line["event"] == "unhandled_error")
    assert failure["request_id"] == "trace-mid-stream"


def test_latency_is_to_the_last_byte_and_the_line_follows_the_work_after_it(capsys: pytest.CaptureFixture[str]) -> None:
    started = time.perf_counter()
    response = _get("/work-after-the-answer")
    elapsed_ms = (time.perf_counter() - started) * 1000
    assert response.json() == {"ok": True}
    access = next(line for line in _lines(capsys.readouterr().out) if line["event"] == "request")
    assert elapsed_ms >= AFTER_THE_ANSWER_SECONDS * 1000  # the request (and its line) waited for the work
    assert isinstance(access["latency_ms"], float)
    assert access["latency_ms"] < AFTER_THE_ANSWER_SECONDS * 1000  # what the client waited does not count it
