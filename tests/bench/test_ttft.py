"""The bench's time-to-first-token probe, against the stub with a known time to first token."""

from __future__ import annotations

import pytest

from bench.report import Report, ScenarioResult, render
from bench.scenarios import Scenario
from bench.ttft import TTFTResult, measure_ttft
from bench.wrk import LoadResult
from service.stub.testing import run_stub

STUB_TTFT_MS = 60.0
BODY = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}


def test_ttft_percentiles_are_at_least_the_stubs_and_below_the_whole_stream() -> None:
    # 40 tokens at 100 tokens/s: the whole stream takes 400 ms after the first token.
    with run_stub(ttft_ms=STUB_TTFT_MS, tokens_per_second=100, reply_tokens=40) as stub:
        result = measure_ttft(f"{stub.base_url}/chat/completions", [BODY] * 5)
    assert result.samples == 5
    assert STUB_TTFT_MS <= result.p50_ms <= result.p90_ms <= result.p99_ms < STUB_TTFT_MS + 300


def test_only_loopback_is_measured() -> None:
    with pytest.raises(ValueError, match=r"127\.0\.0\.1"):
        measure_ttft("http://example.com/v1/chat/completions", [BODY])


def test_the_report_prints_ttft_for_streamed_scenarios() -> None:
    load = LoadResult(requests=10, seconds=1, p50_ms=1, p90_ms=2, p99_ms=3, max_ms=4, errors=0)
    result = ScenarioResult(
        Scenario("streaming", 1, stream=True),
        direct=load,
        service=load,
        direct_ttft=TTFTResult(20, 50.0, 55.0, 60.0),
        service_ttft=TTFTResult(20, 52.0, 57.0, 70.0),
    )
    report = Report(config={}, results=[result])
    assert "time to first token (ms, 20 sequential): direct p50 50.0" in render(report)
    assert report.as_json()["scenarios"][0]["ttft"]["service"]["p99_ms"] == 70.0
