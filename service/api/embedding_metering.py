"""Embeddings on the same books as chat: spend budgets, usage, and the fleet's upstream token guard.

Question embeddings are batched across clients (service.answers.embeddings). Each question first
reserves its estimated cost on its client's budget (a client over budget is refused before any call);
each batch takes its estimated tokens from the fleet guard; OpenAI's usage for the batch is then split
among its questions in proportion to their estimated tokens, and each client is charged its share.
Indexing the knowledge base is the service's own spend: client id `_service`, service budgets only.
What follows a batch's call (the fleet's token reconciliation, every question's settle, every client's
usage) is written in one round trip, as for chat (service.api.ledger).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from service.api.refusals import REFUSALS, as_api_error
from service.budget import ModelPrice, Reservation, SpendBudget
from service.ratelimit import UpstreamGuard, UpstreamPermit, count_text_tokens
from service.settings import SERVICE_CLIENT_ID
from service.state import SharedState, Writes
from service.usage import UsageEvent, UsageRecorder


@dataclass(frozen=True)
class Embedded:
    """One embeddings call's result: a vector per text, and the tokens OpenAI billed for the call."""

    vectors: list[list[float]]
    prompt_tokens: int


EmbedCall = Callable[[list[str]], Awaitable[Embedded]]


@dataclass
class EmbeddingTicket:
    """One question's place in a batch: whose it is, its estimated tokens, and its budget reservation."""

    client_id: str
    estimated_tokens: int
    reservation: Reservation


def split_in_proportion(total: int, weights: Sequence[int]) -> list[int]:
    """`total` split by `weights` in whole tokens (largest remainders), summing to exactly `total`."""
    weight_sum = sum(weights)
    if not weights:
        return []
    if weight_sum <= 0:
        weights, weight_sum = [1] * len(weights), len(weights)
    shares = [total * w // weight_sum for w in weights]
    by_remainder = sorted(range(len(weights)), key=lambda i: (total * weights[i]) % weight_sum, reverse=True)
    for i in by_remainder[: total - sum(shares)]:
        shares[i] += 1
    return shares


@dataclass
class EmbeddingMeter:
    model: str
    price: ModelPrice
    state: SharedState
    budget: SpendBudget
    guard: UpstreamGuard
    usage: UsageRecorder

    def _cost(self, tokens: int) -> int:
        return self.price.cost_nanos(tokens, 0, 0)

    async def reserve(self, client_id: str, text: str) -> EmbeddingTicket:
        """Before a question joins a batch: its estimated cost on its client's budget (or the 429)."""
        tokens = count_text_tokens(text)
        try:
            reservation = await self.budget.reserve(client_id, self._cost(tokens))
        except REFUSALS as exc:
            raise as_api_error(exc) from None
        return EmbeddingTicket(client_id, tokens, reservation)

    async def acquire(self, estimated_tokens: int) -> UpstreamPermit:
        """Before a batch's call: room in the fleet's OpenAI limits (or the 503)."""
        try:
            return await self.guard.acquire(estimated_tokens)
        except REFUSALS as exc:
            raise as_api_error(exc) from None

    async def settle(self, tickets: Sequence[EmbeddingTicket], prompt_tokens: int, permit: UpstreamPermit) -> None:
        """After a batch's call: each question's share of what OpenAI billed, on its client's books."""
        writes = self.guard.reconcile_writes(permit, prompt_tokens)
        shares = split_in_proportion(prompt_tokens, [t.estimated_tokens for t in tickets])
        per_client: dict[str, int] = {}
        for ticket, share in zip(tickets, shares, strict=True):
            writes += self.budget.settle_writes(ticket.reservation, self._cost(share))
            per_client[ticket.client_id] = per_client.get(ticket.client_id, 0) + share
        for client_id, tokens in per_client.items():
            event = UsageEvent(client_id, self.model, tokens, 0, 0, self._cost(tokens), requests=0)
            writes += self.usage.writes(event)
        await self.state.settle(writes)

    async def failed(self, tickets: Sequence[EmbeddingTicket], permit: UpstreamPermit | None) -> None:
        """The batch's call did not happen or failed: give back what each question took."""
        writes = self.guard.reconcile_writes(permit, 0) if permit is not None else Writes()
        for ticket in tickets:
            writes += self.budget.settle_writes(ticket.reservation, 0)
        await self.state.settle(writes)

    async def embed_for_service(self, call: EmbedCall, texts: list[str]) -> list[list[float]]:
        """An embeddings call the service makes for itself (indexing): guarded, and charged to the service."""
        permit = await self.acquire(sum(count_text_tokens(text) for text in texts))
        try:
            result = await call(texts)
        except BaseException:
            await self.guard.reconcile(permit, 0)
            raise
        cost = self._cost(result.prompt_tokens)
        event = UsageEvent(SERVICE_CLIENT_ID, self.model, result.prompt_tokens, 0, 0, cost)
        writes = self.guard.reconcile_writes(permit, result.prompt_tokens) + self.budget.charge_writes(cost)
        await self.state.settle(writes + self.usage.writes(event))
        return result.vectors
