"""The Logs Insights queries in docs/logs-insights.md, run over log lines recorded from the real service."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from service.stub.testing import StubServer
from tests.support.logs_insights import UnsupportedQuery, run_query
from tests.support.recorded_logs import Recording, record
from tests.support.service import REPO_ROOT

QUERIES_DOC = REPO_ROOT / "docs" / "logs-insights.md"


def _queries() -> dict[str, str]:
    text = QUERIES_DOC.read_text()
    return dict(re.findall(r"^## ([\w-]+)\n.*?```\n(.*?)```", text, flags=re.MULTILINE | re.DOTALL))


@pytest.fixture(scope="module")
def recording(stub_server: StubServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Recording]:
    stub_server.reset()
    yield from record(stub_server, tmp_path_factory.mktemp("logs"))
    stub_server.reset()


def test_the_doc_has_the_three_queries() -> None:
    assert set(_queries()) == {"cost-by-client", "slowest-requests", "errors-by-type"}


def test_cost_by_client(recording: Recording) -> None:
    rows = run_query(_queries()["cost-by-client"], recording.lines)
    by_client = {row["client_id"]: row for row in rows}
    assert set(by_client) == {"team-a", "team-b"}
    expected = {
        client: sum(
            line["cost_usd"] for line in recording.requests if line.get("client_id") == client and "cost_usd" in line
        )
        for client in by_client
    }
    for client, row in by_client.items():
        assert row["cost_usd_total"] == pytest.approx(expected[client])
        assert row["cost_usd_total"] > 0
    assert [row["client_id"] for row in rows] == sorted(expected, key=lambda c: -expected[c])
    assert by_client["team-a"]["requests"] == 2  # the miss and the hit (cost 0); refusals have no cost


def test_slowest_requests(recording: Recording) -> None:
    rows = run_query(_queries()["slowest-requests"], recording.lines)
    latencies = [row["latency_ms"] for row in rows]
    assert latencies == sorted(latencies, reverse=True)
    assert len(rows) == len(recording.requests)  # fewer than the limit
    # The failed call waited out the SDK's backoff twice: it is the slowest, and says why.
    assert rows[0]["request_id"] == recording.request_ids["upstream_failed"]
    assert rows[0]["upstream_retries"] == 2
    streamed = next(row for row in rows if row["request_id"] == recording.request_ids["stream"])
    assert streamed["ttft_ms"] > 0
    assert streamed["upstream_request_id"].startswith("req_")


def test_errors_by_type(recording: Recording) -> None:
    rows = run_query(_queries()["errors-by-type"], recording.lines)
    counts = {(row["status"], row["error_type"], row["error_code"]): row["errors"] for row in rows}
    assert counts == {
        (502, "upstream_error", "upstream_error"): 1,
        (401, "invalid_request_error", "invalid_api_key"): 1,
        (400, "invalid_request_error", "invalid_value"): 1,
    }


def test_the_evaluator_refuses_syntax_it_does_not_know() -> None:
    with pytest.raises(UnsupportedQuery):
        run_query("parse @message /(?<x>.*)/", [])
    with pytest.raises(UnsupportedQuery):
        run_query('filter a like "x"', [])
