"""Cost controls around one chat completion: response cache, rate limits, spend budget, usage.

`Metering` is built once per process in the lifespan; the chat route calls `begin` before any
upstream call and then exactly one of `succeeded` / `failed` (for streams, `stream_finished`).

Order, and why: the cache first (a hit costs nothing, so it is neither rate limited nor charged
against a budget, only recorded as saved spend); then the client's RPM/TPM (cheap, refuses most
abuse); then the budget reservation (the request's maximum cost); then the fleet-wide upstream
guard, which may wait. Anything refused after the cache lookup gives back what it took.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import structlog
from starlette.responses import Response, StreamingResponse

from service.api.embedding_metering import EmbeddingMeter
from service.api.refusals import REFUSALS, as_api_error
from service.budget import (
    ModelPrice,
    PriceTable,
    Reservation,
    SpendBudget,
    SpendLimits,
    signal_soft_limits,
)
from service.cache import (
    CacheLookup,
    CacheMode,
    CacheStatus,
    ResponseCache,
    StreamAssembler,
    cache_mode,
    replay_events,
)
from service.contract import StreamingBudget
from service.guardrails import ChatRequest
from service.ratelimit import (
    Admission,
    ClientLimits,
    ClientRateLimiter,
    UpstreamGuard,
    UpstreamPermit,
    count_prompt_tokens,
    o200k_base,
)
from service.request_context import annotate_current, mark_first_token
from service.settings import Settings
from service.state import SharedState, StateConfig, build_shared_state
from service.upstream.client import UpstreamRateLimited
from service.usage import UsageEvent, UsageRecorder

log = structlog.get_logger(__name__)

CACHE_HEADER = "X-Cache"


def _cost(price: ModelPrice, usage: Mapping[str, Any]) -> int:
    details = usage.get("prompt_tokens_details") or {}
    return price.cost_nanos(
        int(usage.get("prompt_tokens") or 0),
        int(details.get("cached_tokens") or 0) if isinstance(details, Mapping) else 0,
        int(usage.get("completion_tokens") or 0),
    )


def usage_fields(price: ModelPrice, usage: Mapping[str, Any]) -> dict[str, Any]:
    """A request's usage as its log line and its metrics carry it: tokens by kind, and the cost in USD."""
    prompt = usage.get("prompt_tokens_details") or {}
    completion = usage.get("completion_tokens_details") or {}
    fields: dict[str, Any] = {
        "prompt_tokens": usage.get("prompt_tokens"),
        "completion_tokens": usage.get("completion_tokens"),
        "cost_usd": _cost(price, usage) / 1e9,
    }
    if isinstance(prompt, Mapping) and prompt.get("cached_tokens") is not None:
        fields["cached_tokens"] = prompt["cached_tokens"]
    if isinstance(completion, Mapping) and completion.get("reasoning_tokens") is not None:
        fields["reasoning_tokens"] = completion["reasoning_tokens"]
    return fields


@dataclass
class Metering:
    settings: Settings
    state: SharedState
    prices: PriceTable
    cache: ResponseCache | None
    limiter: ClientRateLimiter
    guard: UpstreamGuard
    budget: SpendBudget
    usage: UsageRecorder
    _background: set[asyncio.Task[None]] = field(default_factory=set)

    @classmethod
    def build(cls, settings: Settings) -> Metering:
        prices = PriceTable.load(fallback_model=settings.budget_fallback_model)
        for model in [*settings.allowed_models, *([settings.embedding_model] if settings.answers_enabled else [])]:
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
        cache = (
            ResponseCache(
                state,
                ttl_seconds=settings.cache_ttl_seconds,
                lock_seconds=StreamingBudget(settings.max_stream_seconds).cache_fill_lock_seconds,
                wait_seconds=settings.cache_wait_seconds,
                scope=settings.cache_scope,
            )
            if settings.cache_enabled
            else None
        )
        s = settings
        return cls(
            settings=settings,
            state=state,
            prices=prices,
            cache=cache,
            limiter=ClientRateLimiter(state, ClientLimits(s.client_requests_per_minute, s.client_tokens_per_minute)),
            guard=UpstreamGuard(
                state,
                requests_per_minute=s.upstream_requests_per_minute,
                tokens_per_minute=s.upstream_tokens_per_minute,
                max_wait_seconds=s.upstream_wait_seconds,
            ),
            budget=SpendBudget(
                state,
                client_default=SpendLimits(
                    s.budget_client_daily_soft_usd,
                    s.budget_client_daily_hard_usd,
                    s.budget_client_monthly_soft_usd,
                    s.budget_client_monthly_hard_usd,
                ),
                service=SpendLimits(
                    s.budget_service_daily_soft_usd,
                    s.budget_service_daily_hard_usd,
                    s.budget_service_monthly_soft_usd,
                    s.budget_service_monthly_hard_usd,
                ),
            ),
            usage=UsageRecorder(state),
        )

    def embeddings(self, model: str) -> EmbeddingMeter:
        """The books for embeddings calls (retrieval Q&A): the same budgets, usage and fleet guard as chat."""
        return EmbeddingMeter(
            model=model, price=self.prices.price_for(model), budget=self.budget, guard=self.guard, usage=self.usage
        )

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

    async def begin(self, chat: ChatRequest, client_id: str, headers: Mapping[str, str]) -> MeteredCall:
        price = self.prices.price_for(chat.model)
        mode = cache_mode(headers, chat.params) if self.cache is not None else CacheMode.BYPASS
        lookup = (
            await self.cache.lookup(mode, chat.params, client_id)
            if self.cache is not None
            else CacheLookup(CacheStatus.BYPASS)
        )
        call = MeteredCall(self, chat, client_id, price, lookup)
        if lookup.status is CacheStatus.HIT:
            annotate_current(cost_usd=0.0)  # the saved spend is in /v1/usage, not on the bill
            await self._record(call, lookup.completion.get("usage") or {}, cache_hit=True)
            return call
        try:
            prompt_tokens = count_prompt_tokens(chat.params)
            most_output = chat.max_output_tokens * chat.n
            call.admission = await self.limiter.admit(client_id, prompt_tokens + most_output)
            call.reservation = await self.budget.reserve(client_id, price.max_cost_nanos(prompt_tokens, most_output))
            signal_soft_limits(call.reservation, self.settings.environment)
            call.permit = await self.guard.acquire(prompt_tokens + most_output)
        except REFUSALS as exc:
            await call.failed()
            raise as_api_error(exc) from None
        except BaseException:
            await call.failed()
            raise
        return call

    async def _record(self, call: MeteredCall, usage: Mapping[str, Any], *, cache_hit: bool) -> None:
        details = usage.get("prompt_tokens_details") or {}
        await self.usage.record(
            UsageEvent(
                client_id=call.client_id,
                model=call.chat.model,
                prompt_tokens=int(usage.get("prompt_tokens") or 0),
                cached_prompt_tokens=int(details.get("cached_tokens") or 0) if isinstance(details, Mapping) else 0,
                completion_tokens=int(usage.get("completion_tokens") or 0),
                cost_nanos=_cost(call.price, usage),
                cache_hit=cache_hit,
            )
        )


@dataclass
class MeteredCall:
    metering: Metering
    chat: ChatRequest
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
        """The upstream call answered 200: settle with real usage, record it, fill the cache."""
        if self.done:
            return
        self.done = True
        m = self.metering
        if usage is None:  # no usage to settle with: keep the reservation (the safe direction)
            if m.cache is not None:
                await m.cache.abandon(self.lookup)
            return
        if body is not None:  # a stream's usage was put on its line as it arrived (on_stream_usage)
            annotate_current(**usage_fields(self.price, usage))
        total = int(usage.get("total_tokens") or 0)
        if self.reservation is not None:
            await m.budget.settle(self.reservation, _cost(self.price, usage))
        if self.admission is not None:
            await m.limiter.reconcile(self.admission, total)
        if self.permit is not None:
            await m.guard.reconcile(self.permit, total)
        if upstream_headers is not None:
            await m.guard.observe({k.lower(): v for k, v in upstream_headers.items()})
        await m._record(self, usage, cache_hit=False)
        if m.cache is not None and self.lookup.status is CacheStatus.MISS:
            if body is not None:
                await m.cache.fill(self.lookup, body)
            else:
                completion = self.assembler.completion() if self.assembler is not None else None
                await (m.cache.fill(self.lookup, completion) if completion else m.cache.abandon(self.lookup))

    async def failed(self, error: BaseException | None = None) -> None:
        """Nothing was answered (refused, or upstream failed): give back everything taken.

        OpenAI's own 429 (after the SDK's retries) pauses the whole fleet for its Retry-After.
        """
        if self.done:
            return
        self.done = True
        m = self.metering
        if isinstance(error, UpstreamRateLimited) and self.permit is not None:
            await m.guard.pause(error.retry_after_seconds)  # as precise as OpenAI said: 50 ms is not 1 s
        if self.reservation is not None:
            await m.budget.release(self.reservation)
        if self.admission is not None:
            await m.limiter.reconcile(self.admission, 0)
        if self.permit is not None:
            await m.guard.reconcile(self.permit, 0)
        if m.cache is not None:
            await m.cache.abandon(self.lookup)

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

    def on_stream_usage(self, usage: dict[str, Any]) -> None:
        annotate_current(**usage_fields(self.price, usage))
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
        if self.metering.cache is not None:
            await self.metering.cache.abandon(self.lookup)
