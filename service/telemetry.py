"""OpenTelemetry traces, off unless `OTEL_EXPORTER_OTLP_ENDPOINT` is set.

Off, nothing of OpenTelemetry is imported (tests/service/test_telemetry.py checks `sys.modules`), so
the hot path does not pay for it. On, the well-kept instrumentations do the work: FastAPI's (a server
span per request, continuing the client's `traceparent`) and aiohttp's client (a span per upstream call,
which carries the context on to OpenAI). The request's span also gets the GenAI semantic-convention
attributes and the request ids, from the same fields as the log line (`annotate_span`).
Exported over OTLP/HTTP (protobuf) in batches; the SDK's other `OTEL_*` variables apply as usual.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI

from service.contract import HEALTH_PATH, READY_PATH

SERVICE_NAME = "openai-service"
TRACES_PATH = "/v1/traces"  # OTLP/HTTP's path for traces, appended to the endpoint as the SDK does


def install(app: FastAPI, endpoint: str, environment: str) -> None:
    """Export traces to `endpoint`; instrument the app and the aiohttp client sessions built after this."""
    # Imported here, not at the top: only a process that exports traces loads OpenTelemetry.
    from opentelemetry import trace  # noqa: PLC0415
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter  # noqa: PLC0415
    from opentelemetry.instrumentation.aiohttp_client import AioHttpClientInstrumentor  # noqa: PLC0415
    from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor  # noqa: PLC0415
    from opentelemetry.sdk.resources import Resource  # noqa: PLC0415
    from opentelemetry.sdk.trace import TracerProvider  # noqa: PLC0415
    from opentelemetry.sdk.trace.export import BatchSpanProcessor  # noqa: PLC0415

    resource = Resource.create({"service.name": SERVICE_NAME, "deployment.environment.name": environment})
    provider = TracerProvider(resource=resource)
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint.rstrip("/") + TRACES_PATH)))
    trace.set_tracer_provider(provider)
    FastAPIInstrumentor.instrument_app(
        app,
        tracer_provider=provider,
        excluded_urls=",".join((HEALTH_PATH, READY_PATH)),
        exclude_spans=["receive", "send"],  # one span per request, not one per streamed chunk
    )
    AioHttpClientInstrumentor().instrument(tracer_provider=provider)


def shutdown() -> None:
    """Flush the spans still in the batch (a stopping worker)."""
    from opentelemetry import trace  # noqa: PLC0415

    provider = trace.get_tracer_provider()
    if hasattr(provider, "shutdown"):
        provider.shutdown()


# The request log's fields, as span attributes (GenAI semantic conventions where they name one).
_GEN_AI_ATTRIBUTES = {
    "model": "gen_ai.request.model",
    "prompt_tokens": "gen_ai.usage.input_tokens",
    "completion_tokens": "gen_ai.usage.output_tokens",
    "upstream_request_id": "openai.request.id",
    "request_id": "app.request.id",
    "client_id": "app.client.id",
    "cache": "app.cache",
    "ttft_ms": "app.time_to_first_token_ms",
    "upstream_retries": "app.upstream.retries",
    "cost_usd": "app.cost_usd",
    "error_code": "error.type",
}


def annotate_span(fields: Mapping[str, Any]) -> None:
    """Put one request's outcome on its server span (called by service.middleware as the request ends)."""
    from opentelemetry import trace  # noqa: PLC0415 - loaded already when tracing is on

    span = trace.get_current_span()
    if not span.is_recording():
        return
    attributes: dict[str, Any] = {}
    if fields.get("model"):
        attributes |= {"gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai", "gen_ai.system": "openai"}
    for field, attribute in _GEN_AI_ATTRIBUTES.items():
        value = fields.get(field)
        if isinstance(value, str | bool | int | float):
            attributes[attribute] = value
    span.set_attributes(attributes)
