"""The application factory. Gunicorn serves `service.main:app` (see service/gunicorn.conf.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager

import structlog
from fastapi import FastAPI

from service import telemetry
from service.answers.engine import AnswerEngine
from service.api.metering import Metering
from service.api.openapi import install_openapi
from service.api.relay import Relay
from service.api.routes import admin, answers, chat, embeddings, health, models, responses, usage
from service.api.routes.health import ReadinessCheck
from service.api.swagger_ui import install_docs_ui
from service.auth import ClientAuthenticator
from service.cache.embeddings import EmbeddingCache
from service.errors import install_error_handlers
from service.logging import configure_logging
from service.middleware import RequestContextMiddleware
from service.server.shutdown import NOTICE
from service.settings import LOCAL_DEV_KEY, Settings, get_settings
from service.streaming import StreamLimits
from service.upstream.client import Upstream, build_client, build_transport
from service.upstream.keys import OpenAIKeySource, SecretsManagerKeySource

log = structlog.get_logger(__name__)


async def _load_key_source(settings: Settings) -> OpenAIKeySource:
    if settings.openai_api_key_secret_arn:
        source = SecretsManagerKeySource(
            settings.openai_api_key_secret_arn,
            region=settings.aws_region,
            min_refresh_interval=settings.key_refresh_min_interval_seconds,
        )
        await source.load()
        return source
    if settings.openai_api_key:
        return OpenAIKeySource(settings.openai_api_key.get_secret_value())
    raise RuntimeError(
        "No OpenAI key: set OPENAI_API_KEY or OPENAI_API_KEY_SECRET_ARN (or use `make run`, "
        "which starts the local stub when neither is set)"
    )


@asynccontextmanager
async def _serving(app: FastAPI, settings: Settings) -> AsyncIterator[None]:
    """The lifespan: shared clients built once per worker process, closed when it stops."""
    NOTICE.install()  # after the server's own signal handlers, which it chains onto
    keys = await _load_key_source(settings)
    client = build_client(settings, keys)
    app.state.upstream = Upstream(client, keys, settings)
    transport = build_transport(settings, keys)
    metering = Metering.build(settings)
    app.state.metering = metering
    limits = StreamLimits(settings.sse_heartbeat_seconds, settings.max_stream_seconds, NOTICE.cut)
    embedding_cache = (
        EmbeddingCache(metering.state, ttl_seconds=settings.cache_ttl_seconds, shared=settings.cache_scope == "shared")
        if settings.cache_enabled
        else None
    )
    app.state.relay = Relay(settings, app.state.upstream, metering, transport, limits, embedding_cache=embedding_cache)
    app.state.readiness_checks["state"] = metering.readiness

    async def key_loaded() -> tuple[bool, str]:
        return (True, "ok") if keys.loaded else (False, "OpenAI key not loaded")

    app.state.readiness_checks["openai_key"] = key_loaded
    engine: AnswerEngine | None = None
    if settings.answers_enabled:  # Retrieval Q&A: load or build the knowledge base index in the background
        meter = metering.embeddings(settings.embedding_model)
        engine = AnswerEngine.build(settings, app.state.upstream, metering.state.store, meter)
        engine.start()
        app.state.answers = engine
        app.state.readiness_checks["answers_index"] = engine.readiness
    if settings.accepts_local_dev_key:
        log.warning("local_dev_key_enabled", key=LOCAL_DEV_KEY, reason="ENVIRONMENT=local and no CLIENT_API_KEYS")
    try:
        yield
    finally:
        if engine is not None:
            await engine.aclose()
        await metering.aclose()
        await transport.aclose()
        await client.close()
        if settings.otel_exporter_otlp_endpoint:
            telemetry.shutdown()
        NOTICE.uninstall()


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    configure_logging(settings.log_level)
    tracing = settings.otel_exporter_otlp_endpoint

    def lifespan(app: FastAPI) -> AbstractAsyncContextManager[None]:
        return _serving(app, settings)

    app = FastAPI(
        title="OpenAI production template: reference API",
        summary="OpenAI-compatible chat completions with the production guide's guardrails.",
        version="0.1.0",
        lifespan=lifespan,
        # FastAPI's own telemetry stays off: with tracing on, OpenTelemetry's FastAPI instrumentation does it
        # (service.telemetry), and off, this skips FastAPI's per-request check for a tracer provider.
        telemetry={"tracing": False, "metrics": False, "logs": False},
        docs_url=None,  # Swagger UI is served by install_docs_ui, from a package, under a strict CSP
        redoc_url=None,
        swagger_ui_oauth2_redirect_url=None,
    )
    app.state.settings = settings
    app.state.authenticator = ClientAuthenticator(settings)
    readiness_checks: dict[str, ReadinessCheck] = {}  # components register theirs in the lifespan
    app.state.readiness_checks = readiness_checks
    install_error_handlers(app)
    app.add_middleware(
        RequestContextMiddleware,
        environment=settings.environment,
        on_finish=telemetry.annotate_span if tracing else None,
    )
    # Matched in this order, so the relayed endpoints, which carry the traffic, come first.
    app.include_router(chat.router)
    app.include_router(responses.router)
    app.include_router(embeddings.router)
    app.include_router(answers.router)
    app.include_router(models.router)
    app.include_router(health.router)
    app.include_router(usage.router)
    app.include_router(admin.router)
    install_openapi(app, settings)  # request bodies, the bearer scheme, OpenAI-shaped errors, no 422
    install_docs_ui(app)  # GET /docs (and / redirects to it)
    if tracing:  # after the routes and middleware: the instrumentation wraps the finished app
        telemetry.install(app, tracing, settings.environment)
    return app


app = create_app()
