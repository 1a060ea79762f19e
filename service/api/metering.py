"""Cost controls around one upstream call: response cache, rate limits, spend budget, usage.

`Metering` is built once per process in the lifespan; the relay (service.api.relay) calls `begin` before
any upstream call and then exactly one of `succeeded` / `failed` (for streams, `stream_finished`).

Order, and why: the cache first (a hit costs nothing, so it is neither rate limited nor charged
against a budget, only recorded as saved spend); then the client's RPM/TPM (cheap, refuses most
abuse); then the budget reservation (the request's maximum cost); then the fleet-wide upstream
guard, which may wait. All of it is one step on the shared state, all or nothing, and so is all that
follows the call (service.api.ledger): one Redis round trip before the upstream call, one after.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import structlog
from starlette.responses import Response, StreamingResponse

from service.api.embedding_metering import EmbeddingMeter
from service.api.ledger import Entry, Ledger
from service.api.refusals import REFUSALS, as_api_error
from service.budget import ModelPrice, PriceTable, Reservation, signal_soft_limits
from service.cache import CacheLookup, CacheMode, CacheStatus, ResponseCache, StreamAssembler, cache_mode, replay_events
from service.guardrails import PreparedRequest
from service.ratelimit import Admission, UpstreamPermit, o200k_base
from service.request_context import annotate_current, mark_first_token
from service.settings import Settings
from service.state import SharedState, StateConfig, build_shared_state
from service.upstream.errors import UpstreamRateLimited
from service.usage import UsageEvent, UsageRecorder, cost_of, usage_fields, usage_of

log = structlog.get_logger(__name__)

CACHE_HEADER = "X-Cache"


@dataclass
class Metering:
    settings: Settings
    state: SharedState
    prices: PriceTable
    ledger: Ledger  # the cache, limits, budgets and usage, and the two steps that use them all
    _background: set[asyncio.Task[None]] = field(default_factory=set)

    @classmethod
    def build(cls, settings: Settings) -> Metering:
        prices = PriceTable.load(fallback_model=settings.budget_fallback_model)
        for model in [*settings.allowed_models, *settings.embedding_models]:
            prices.price_for(model)  # refuse to start with a model that has no price (UnknownModelPrice)
        o200k_base()  # load the encoding at boot, not on the first request (~0.5 s)
        token = settings.redis_auth_token.get_secret_value() if settings.redis_auth_token else None
        state = build_shared_state(
            StateConfig(
                redis_url=settings.redis_url,
                redis_auth_token=token,
                socket_timeout_seconds=settings.redis_socket_timeout_seconds,
                connect_timeout_seconds=settings.redis_connect_timeout_seconds,
                max_connections=settings.redis_max_connections,
                pool_timeout_seconds=settings.redis_pool_timeout_seconds,
                failure_policy=settings.state_failure_policy,
            )
        )
        return cls(settings=settings, state=state, prices=prices, ledger=Ledger.build(settings, state))

    @property
    def cache(self) -> ResponseCache | None:
        return self.ledger.cache

    @property
    def usage(self) -> UsageRecorder:
        return self.ledger.usage

    def embeddings(self, model: str) -> EmbeddingMeter:
        """The books for embeddings calls (retrieval Q&A): the same budgets, usage and fleet guard as chat."""
        ledger = self.ledger
        price = self.prices.price_for(model)
        return EmbeddingMeter(model, price, self.state, ledger.budget, ledger.guard, ledger.usage)

    async def record_hit(self, client_id: str, model: str, usage: Mapping[str, Any]) -> None:
        """An answer served from a cache without a metered call: its usage as saved spend, nothing on the bill."""
        annotate_current(cost_usd=0.0)
        cost = cost_of(self.prices.price_for(model), usage)
        await self.usage.record(UsageEvent.of(client_id, model, usage, cost, cache_hit=True))

    async def readiness(self) -> tuple[bool, str]:
        """Ready either way: a Redis outage degrades the service, it does not stop it (see README).

        `/readyz` needs no key, so it says only what is degraded; the error itself (hosts, ports) goes to the log.
        """
        report = await self.state.readiness()
        if not report["degraded"]:
            return True, f"ok ({report['kind']})"
        log.warning("readiness_degraded", check="state", backend=report["kind"], error=report["error"])
        return True, (
            f"degraded: {report['kind']} unavailable; cache bypassed, "
            f"limits and budgets fail {report['failure_policy']}"
        )

    async def aclose(self) -> None:
        if self._background:
            await asyncio.gather(*self._background, return_exceptions=True)
        await self.state.aclose()

    def in_background(self, work: Any) -> None:
        """Run accounting that must finish even if the client has gone (a cancelled stream)."""
        task: asyncio.Task[None] = asyncio.get_running_loop().create_task(work)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def begin(self, chat: PreparedRequest, client_id: str, headers: Mapping[str, str]) -> MeteredCall:
        price = self.prices.price_for(chat.model)
        mode = cache_mode(headers, chat.params, chat.endpoint) if self.cache is not None else CacheMode.BYPASS
        # Counted before the cache lookup, which is the same step as the limits (a hit wastes the count).
        prompt_tokens = chat.estimate_input_tokens()
        most_output = chat.max_output_tokens * chat.n
        try:
            entry = await self.ledger.open(
                client_id,
                mode,
                chat.params,
                endpoint=chat.endpoint,
                tokens=prompt_tokens + most_output,
                max_cost_nanos=price.max_cost_nanos(prompt_tokens, most_output),
            )
        except REFUSALS as exc:  # nothing was taken
            raise as_api_error(exc) from None
        call = MeteredCall(self, chat, client_id, price, entry.lookup, entry.admission, entry.reservation, entry.permit)
        if call.hit:
            annotate_current(cost_usd=0.0)  # the saved spend is in /v1/usage, not on the bill
            await self.usage.record(
                call.usage_event(usage_of(chat.endpoint, call.lookup.completion) or {}, cache_hit=True)
            )
        elif call.reservation is not None:
            signal_soft_limits(call.reservation, self.settings.environment)
        return call


@dataclass
class MeteredCall:
    metering: Metering
    chat: PreparedRequest
    client_id: str
    price: ModelPrice
    lookup: CacheLookup
    admission: Admission | None = None
    reservation: Reservation | None = None
    permit: UpstreamPermit | None = None
    assembler: StreamAssembler | None = None
    stream_usage: dict[str, Any] | None = None
    done: bool = False

    @property
    def hit(self) -> bool:
        return self.lookup.status is CacheStatus.HIT

    @property
    def _entry(self) -> Entry:
        return Entry(self.lookup, self.admission, self.reservation, self.permit)

    def usage_event(self, usage: Mapping[str, Any], *, cache_hit: bool) -> UsageEvent:
        return UsageEvent.of(self.client_id, self.chat.model, usage, cost_of(self.price, usage), cache_hit=cache_hit)

    def headers(self) -> dict[str, str]:
        headers = {CACHE_HEADER: self.lookup.status.value}
        if self.admission is not None:
            headers |= self.admission.headers
        if self.reservation is not None:
            headers |= self.reservation.headers()
        return headers

    def hit_response(self, sse_headers: Mapping[str, str]) -> Response:
        """The cached answer: the stored body, or a replayed stream for a streamed request."""
        if not self.chat.stream:
            return Response(self.lookup.body, media_type="application/json", headers=self.headers())
        events: Iterator[bytes] = replay_events(self.lookup.completion, include_usage=self.chat.include_usage)
        return StreamingResponse(events, media_type="text/event-stream", headers={**sse_headers, **self.headers()})

    async def succeeded(self, usage: Mapping[str, Any] | None, body: bytes | None, upstream_headers: Any) -> None:
        """The upstream call answered 200: settle with real usage, record it, fill the cache (one step)."""
        if self.done:
            return
        self.done = True
        ledger = self.metering.ledger
        if usage is None:  # no usage to settle with: keep the reservation (the safe direction)
            await ledger.close(self._entry)
            return
        headers = {k.lower(): v for k, v in upstream_headers.items()} if upstream_headers is not None else {}
        await ledger.close(
            self._entry,
            cost_nanos=cost_of(self.price, usage),
            tokens=int(usage.get("total_tokens") or 0),
            event=self.usage_event(usage, cache_hit=False),
            answer=body if body is not None else self.assembler.completion() if self.assembler is not None else None,
            pause_seconds=ledger.guard.pause_seconds(headers),
        )

    async def failed(self, error: BaseException | None = None) -> None:
        """Nothing was answered (upstream failed, or the client went): give back everything taken.

        OpenAI's own 429 (after the SDK's retries) pauses the whole fleet for its Retry-After.
        """
        if self.done:
            return
        self.done = True
        pause = 0.0
        if isinstance(error, UpstreamRateLimited) and self.permit is not None:
            pause = error.retry_after_seconds  # as precise as OpenAI said: 50 ms is not 1 s
        await self.metering.ledger.close(self._entry, cost_nanos=0, tokens=0, pause_seconds=pause)

    # --- streams ----------------------------------------------------------------------------------
    def watch_stream(self) -> None:
        """Assemble the streamed answer as it is relayed, if it is going into the cache."""
        if self.lookup.status is CacheStatus.MISS:
            self.assembler = StreamAssembler()

    def on_stream_event(self, event: bytes) -> None:
        if not event.startswith(b":"):  # a keep-alive comment is not a token
            mark_first_token()
        if self.assembler is not None:
            self.assembler.feed(event)

    def note_usage(self, usage: Mapping[str, Any]) -> None:
        """Put the usage and its cost on the request's line (and span) as soon as it is known: before the
        answer ends, because the books are settled after it (service.api.relay)."""
        annotate_current(**usage_fields(self.price, usage))

    def on_stream_usage(self, usage: dict[str, Any]) -> None:
        self.note_usage(usage)
        self.stream_usage = usage
        if self.assembler is not None:
            self.assembler.set_usage(usage)

    def stream_finished(self, upstream_headers: Any) -> None:
        """Called from the stream's `finally`; accounting runs as its own task (the stream may be cancelled)."""
        if self.stream_usage is not None:
            self.metering.in_background(self.succeeded(self.stream_usage, None, upstream_headers))
        else:
            # The stream broke before usage arrived: the reservation stays (tokens may have been billed).
            self.metering.in_background(self._abandon_cache())

    async def _abandon_cache(self) -> None:
        self.done = True
        await self.metering.ledger.close(self._entry)
