"""Per-request metrics: EMF records CloudWatch accepts, with the contract's names, units and dimensions."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from service import metrics
from service.contract import (
    ENDPOINT_DIMENSION,
    MODEL_DIMENSION,
    REQUEST_DIMENSIONS,
    REQUEST_METRIC_UNITS,
    ROLLUP_DIMENSIONS,
    Metrics,
)
from service.stub.testing import StubServer
from tests.support import recorded_logs
from tests.support.emf import emf_violations
from tests.support.recorded_logs import Recording


@pytest.fixture(scope="module")
def recording(stub_server: StubServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Recording]:
    stub_server.reset()
    yield from recorded_logs.record(stub_server, tmp_path_factory.mktemp("metrics"))
    stub_server.reset()


def _metric_names(record: dict[str, object]) -> set[str]:
    directive = record["_aws"]["CloudWatchMetrics"][0]  # type: ignore[index]
    return {m["Name"] for m in directive["Metrics"]}  # type: ignore[index]


# --- the record, in process -------------------------------------------------------------------------
def test_a_full_record_meets_the_emf_specification() -> None:
    fields = {
        "model": "gpt-4o-mini",
        "client_id": "team-a",
        "cache": "MISS",
        "latency_ms": 12.5,
        "ttft_ms": 3.25,
        "prompt_tokens": 10,
        "completion_tokens": 5,
        "cached_tokens": 0,
        "reasoning_tokens": 0,
        "cost_usd": 0.000123,
        "upstream_retries": 1,
    }
    record = metrics.request_record("staging", "/v1/chat/completions", fields, "2xx")
    assert emf_violations(record) == []
    assert _metric_names(record) == set(REQUEST_METRIC_UNITS)


def test_the_checker_rejects_what_cloudwatch_would() -> None:
    record = metrics.request_record("staging", "/v1/chat/completions", {"model": "m"}, "2xx")
    record.pop(MODEL_DIMENSION)
    record[Metrics.REQUESTS] = "1"
    problems = emf_violations(record)
    assert any("'Model'" in p for p in problems)
    assert any("'Requests'" in p for p in problems)


def test_a_metric_without_a_value_is_left_out_not_zero() -> None:
    record = metrics.request_record("prod", "/v1/chat/completions", {"cache": "BYPASS"}, "4xx")
    assert _metric_names(record) == {Metrics.REQUESTS, Metrics.ERRORS_4XX, Metrics.ERRORS_5XX}
    assert record[MODEL_DIMENSION] == metrics.NO_MODEL
    assert record[Metrics.ERRORS_4XX] == 1


@pytest.mark.parametrize(("status", "outcome"), [(200, "2xx"), (429, "4xx"), (502, "5xx"), (499, "499")])
def test_outcome_class(status: int, outcome: str) -> None:
    assert metrics.outcome_of(status) == outcome


# --- what the real service writes ---------------------------------------------------------------------
def test_every_request_writes_one_valid_emf_record(recording: Recording) -> None:
    for name, request_id in recording.request_ids.items():
        records = [r for r in recording.emf if r.get("request_id") == request_id]
        assert len(records) == 1, name
        assert emf_violations(records[0]) == [], name


def test_records_use_the_contract_dimension_sets_and_units(recording: Recording) -> None:
    for record in (recording.emf_of(name) for name in recording.request_ids):
        directive = record["_aws"]["CloudWatchMetrics"][0]
        assert directive["Namespace"] == Metrics.NAMESPACE
        assert directive["Dimensions"] == [list(REQUEST_DIMENSIONS), list(ROLLUP_DIMENSIONS)]
        for definition in directive["Metrics"]:
            assert definition["Unit"] == REQUEST_METRIC_UNITS[definition["Name"]]
        assert record[ENDPOINT_DIMENSION] == "/v1/chat/completions"


def test_client_id_is_a_property_not_a_dimension(recording: Recording) -> None:
    record = recording.emf_of("miss")
    assert record["client_id"] == "team-a"
    dimensions = {d for ds in record["_aws"]["CloudWatchMetrics"][0]["Dimensions"] for d in ds}
    assert "client_id" not in dimensions


def test_a_cache_miss_then_hit(recording: Recording) -> None:
    miss, hit = recording.emf_of("miss"), recording.emf_of("hit")
    assert (miss[Metrics.CACHE_MISSES], miss[Metrics.CACHE_HITS]) == (1, 0)
    assert (hit[Metrics.CACHE_MISSES], hit[Metrics.CACHE_HITS]) == (0, 1)
    assert miss[Metrics.COST_USD] > 0
    assert hit[Metrics.COST_USD] == 0
    assert miss[Metrics.PROMPT_TOKENS] > 0
    assert miss[Metrics.COMPLETION_TOKENS] > 0
    assert miss[MODEL_DIMENSION] == "gpt-4o-mini"


def test_a_stream_has_time_to_first_token_and_a_plain_request_has_none(recording: Recording) -> None:
    streamed = recording.emf_of("stream")
    assert 0 < streamed[Metrics.TIME_TO_FIRST_TOKEN] <= streamed[Metrics.REQUEST_LATENCY]
    assert streamed[Metrics.COMPLETION_TOKENS] > 0
    assert streamed[MODEL_DIMENSION] == "gpt-4o"
    assert Metrics.TIME_TO_FIRST_TOKEN not in recording.emf_of("miss")


def test_upstream_retries_are_counted(recording: Recording) -> None:
    assert recording.emf_of("retried")[Metrics.UPSTREAM_RETRIES] == 1
    assert recording.emf_of("retried")["Outcome"] == "2xx"
    failed = recording.emf_of("upstream_failed")
    assert failed[Metrics.UPSTREAM_RETRIES] == 2
    assert (failed["Outcome"], failed[Metrics.ERRORS_5XX], failed[Metrics.ERRORS_4XX]) == ("5xx", 1, 0)


def test_a_refused_request_counts_as_4xx_with_no_model_and_no_tokens(recording: Recording) -> None:
    record = recording.emf_of("unauthenticated")
    assert (record["Outcome"], record[Metrics.ERRORS_4XX], record[MODEL_DIMENSION]) == ("4xx", 1, metrics.NO_MODEL)
    assert Metrics.PROMPT_TOKENS not in record
    assert Metrics.COST_USD not in record


# --- the request log line ---------------------------------------------------------------------------
def test_the_request_line_carries_openai_request_id_retries_ttft_and_cache(recording: Recording) -> None:
    streamed = recording.request_line("stream")
    assert streamed["upstream_request_id"].startswith("req_")
    assert streamed["ttft_ms"] > 0
    assert streamed["cache"] == "BYPASS"
    assert recording.request_line("retried")["upstream_retries"] == 1
    assert recording.request_line("hit")["cache"] == "HIT"
    assert recording.request_line("miss")["upstream_request_id"] != streamed["upstream_request_id"]
    invalid = recording.request_line("invalid")
    assert (invalid["status"], invalid["error_type"]) == (400, "invalid_request_error")
