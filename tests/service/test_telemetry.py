"""OpenTelemetry: off by default with nothing imported; on, spans reach a real OTLP receiver."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator

import pytest

from service.contract import Env
from service.stub.testing import StubServer
from tests.conftest import ServiceFactory
from tests.support.otlp import Receiver, otlp_receiver
from tests.support.service import REPO_ROOT

CLIENT_TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
CLIENT_SPAN_ID = "00f067aa0ba902b7"
SERVER = 2  # SpanKind in the OTLP protobuf: SPAN_KIND_SERVER
CLIENT = 3


# What tracing needs and nothing else loads. Not `opentelemetry` itself: FastAPI imports the API (a hard
# dependency of FastAPI's own, unused, telemetry), and redis-py tries `opentelemetry.sdk.metrics`.
TRACING_MODULES = ("opentelemetry.sdk.trace", "opentelemetry.exporter", "opentelemetry.instrumentation")


def test_without_the_endpoint_nothing_of_opentelemetry_tracing_is_imported() -> None:
    code = (
        "import sys\n"
        "from service.main import create_app\n"
        "from service.settings import Settings\n"
        "create_app(Settings(_env_file=None))\n"
        f"loaded = sorted(m for m in sys.modules if m.startswith({TRACING_MODULES!r}))\n"
        "assert not loaded, loaded\n"
        "import service.telemetry\n"  # the module itself imports nothing of OpenTelemetry until install()
        f"assert not [m for m in sys.modules if m.startswith({TRACING_MODULES!r})]\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO_ROOT, env=env, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    with otlp_receiver() as running:
        yield running


def test_a_request_continues_the_clients_trace_with_genai_attributes(
    make_service: ServiceFactory, stub: StubServer, receiver: Receiver
) -> None:
    env = {Env.OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, "OTEL_BSP_SCHEDULE_DELAY": "50"}
    with make_service(workers=1, **env) as svc:
        raw = svc.client().chat.completions.with_raw_response.create(
            model="gpt-4o-mini",
            messages=[{"role": "user", "content": "trace me"}],
            extra_headers={"traceparent": f"00-{CLIENT_TRACE_ID}-{CLIENT_SPAN_ID}-01"},
        )
        request_id = raw.headers["x-request-id"]
        spans = receiver.wait_for(CLIENT_TRACE_ID, count=2)
    server = [s for s in spans if s.kind == SERVER]
    assert len(server) == 1, [s.name for s in spans]
    (request_span,) = server
    assert request_span.parent_span_id == CLIENT_SPAN_ID  # the client's traceparent is continued
    assert request_span.resource["service.name"] == "openai-service"
    attributes = request_span.attributes
    assert attributes["gen_ai.request.model"] == "gpt-4o-mini"
    assert attributes["gen_ai.operation.name"] == "chat"
    assert attributes["gen_ai.usage.input_tokens"] > 0
    assert attributes["gen_ai.usage.output_tokens"] > 0
    assert attributes["app.request.id"] == request_id
    assert attributes["openai.request.id"].startswith("req_")
    # The upstream call: an aiohttp client span in the same trace, under the request's span.
    upstream = [s for s in spans if s.kind == CLIENT]
    assert upstream, [s.name for s in spans]
    assert upstream[0].parent_span_id == request_span.span_id
    # ... and the trace went on to "OpenAI": the stub saw the same trace id in its traceparent.
    traceparent = stub.last_request("/v1/chat/completions")["headers"]["traceparent"]
    assert traceparent.split("-")[1] == CLIENT_TRACE_ID
    assert traceparent.split("-")[2] == upstream[0].span_id
