"""The one metered relay: every endpoint that passes OpenAI's answer through uses it.

`Relay.handle` is a relayed route's whole work: it prepares the request (service.guardrails), moderates
its input, opens the books (`Metering.begin`: cache, limits, budget, fleet guard), sends it over the
relay's transport with one deadline, passes the answer through as bytes (streamed with heartbeats, or
whole) and closes the books with the real usage. What differs between endpoints is only where their
usage sits (service.usage.usage_of), so the next endpoint is a route file and one reader there.
Embeddings take one detour, through their per-input cache (service.api.cached_embeddings).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from functools import partial

import orjson
import structlog
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from service import moderation
from service.api import cached_embeddings
from service.api.body import read_json_object
from service.api.metering import MeteredCall, Metering
from service.auth import Client
from service.cache.embeddings import EmbeddingCache, cacheable
from service.guardrails import PREPARE, EmbeddingsRequest, Endpoint, PreparedRequest
from service.middleware import annotate
from service.settings import Settings
from service.streaming import SSE_HEADERS, StreamLimits, UsageEvents, relay_events
from service.upstream.client import Upstream
from service.upstream.transport import Deadline, OpenAITransport
from service.usage import usage_of

log = structlog.get_logger(__name__)


class Relay:
    """One per worker process, built in the lifespan: what a relayed route needs, as one dependency."""

    def __init__(
        self,
        settings: Settings,
        upstream: Upstream,
        metering: Metering,
        transport: OpenAITransport,
        limits: StreamLimits,
        *,
        embedding_cache: EmbeddingCache | None = None,
    ) -> None:
        self.settings = settings
        self.upstream = upstream  # the SDK client, for moderation
        self.metering = metering
        self.transport = transport
        self.limits = limits
        self.embedding_cache = embedding_cache

    async def handle(self, request: Request, endpoint: Endpoint, client: Client) -> Response:
        """A relayed endpoint's whole route: prepare, moderate, open the books, forward."""
        settings = self.settings
        sent = await read_json_object(request, max_bytes=settings.max_body_bytes, max_depth=settings.max_json_depth)
        prepared = PREPARE[endpoint](sent, settings, client.id)
        annotate(request, model=prepared.model, stream=prepared.stream)
        if settings.moderation_enabled and endpoint is not Endpoint.EMBEDDINGS:  # embeddings generate nothing
            param = "messages" if endpoint is Endpoint.CHAT else "input"
            await moderation.check_input(self.upstream, prepared.input_text, settings.moderation_model, param=param)
        cache = self.embedding_cache
        if cache is not None and isinstance(prepared, EmbeddingsRequest) and cacheable(prepared.inputs):
            return await cached_embeddings.embed(self, cache, request, prepared, client.id)
        # Cache lookup, rate limits, budget reservation and the fleet's upstream guard (service.api.metering).
        metered = await self.metering.begin(prepared, client.id, request.headers)
        annotate(request, cache=metered.lookup.status.value)
        return await self.forward(metered, prepared)

    async def forward(self, call: MeteredCall, request: PreparedRequest) -> Response:
        """The route's whole answer: the cached one, OpenAI's JSON, or OpenAI's stream."""
        if call.hit:
            return call.hit_response(SSE_HEADERS)
        if request.stream:
            events = await self.open_stream(call, request)
            return StreamingResponse(events, media_type="text/event-stream", headers={**SSE_HEADERS, **call.headers()})
        body = await self.complete(call, request)
        return Response(body, media_type="application/json", headers=call.headers())

    async def complete(self, call: MeteredCall, request: PreparedRequest) -> bytes:
        """Send, read the whole answer within the deadline, settle the books; the answer's bytes.

        Settled before the answer is sent, not after it. Sending first and settling right after (as a
        stream's books close) takes the settle's Redis round trip off what a lone client waits, but at
        concurrency 50 in the production configuration it measured 57-62% of direct against 66-71%
        settling first (`python -m bench --only "non-streaming (c=50)" --config production`, interleaved,
        2026-12-01), and slower again in an earlier session: each connection's next request then
        overlaps the previous one's settle.
        """
        try:
            deadline = Deadline.after(self.limits.max_seconds)
            upstream = await self.transport.send(request.endpoint, request.params, deadline)
            body = await upstream.read()
        except BaseException as exc:
            await call.failed(exc)
            raise
        try:
            usage = usage_of(request.endpoint, orjson.loads(body))
        except orjson.JSONDecodeError:
            log.warning("upstream_body_not_json", size=len(body))
            usage = None
        if usage is not None:
            call.note_usage(usage)
        await call.succeeded(usage, body, upstream.headers)  # no usage: the reservation stays (the safe side)
        return body

    async def open_stream(self, call: MeteredCall, request: PreparedRequest) -> AsyncIterator[bytes]:
        """Send and wait for OpenAI's headers (so an error still gets its status), then the events to relay."""
        deadline = Deadline.after(self.limits.max_seconds)
        try:
            upstream = await self.transport.send(request.endpoint, request.params, deadline)
        except BaseException as exc:
            await call.failed(exc)
            raise
        call.watch_stream()
        usage = UsageEvents(partial(usage_of, request.endpoint), forward=request.include_usage)

        async def events() -> AsyncIterator[bytes]:
            try:
                async for event in relay_events(
                    upstream.read_chunk,
                    deadline=deadline.at,
                    limits=self.limits,
                    usage=usage,
                    on_usage=call.on_stream_usage,
                ):
                    call.on_stream_event(event)
                    yield event
            finally:
                call.stream_finished(upstream.headers)
                upstream.release()

        return events()
