"""The price table (data in prices.json, with the date it was taken) and what a request costs.

Money is counted in integer nano-dollars (1e-9 USD) everywhere it is stored, so Redis adds integers
atomically and nothing drifts through floating point.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

from service.catalog import base_model

PRICES_FILE = Path(__file__).with_name("prices.json")
NANOS_PER_USD = 1_000_000_000
_MILLI_NANOS_PER_TOKEN_PER_USD_PER_MILLION = Decimal(1_000_000)  # $1 per 1M tokens = 1000 nano-dollars a token


class UnknownModelPrice(Exception):
    """The model has no price and no fallback is configured: refuse rather than count it as free."""

    def __init__(self, model: str) -> None:
        super().__init__(
            f"No price is known for model {model!r}; add it to service/budget/prices.json or set BUDGET_FALLBACK_MODEL"
        )
        self.model = model


def usd(nanos: int) -> float:
    return nanos / NANOS_PER_USD


@functools.lru_cache(maxsize=256)  # the budgets' few limits, converted on every request otherwise
def nanos_from_usd(amount: float | Decimal) -> int:
    return int(Decimal(str(amount)) * NANOS_PER_USD)


@dataclass(frozen=True)
class ModelPrice:
    """USD per 1M tokens. `cached_input` None: the model has no cached-input discount."""

    input: Decimal
    cached_input: Decimal | None
    output: Decimal
    # The same rates as integers, nano-dollars per 1,000 tokens ($1 per 1M tokens = 1,000,000), so a cost is
    # integer arithmetic on the hot path: exact, and without Decimal's cost per request.
    _rates: tuple[int, int, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        cached = self.input if self.cached_input is None else self.cached_input
        rates = tuple(rate * _MILLI_NANOS_PER_TOKEN_PER_USD_PER_MILLION for rate in (self.input, cached, self.output))
        if any(rate != int(rate) for rate in rates):
            raise ValueError(f"prices are in USD per 1M tokens with at most 6 decimal places, not {self}")
        object.__setattr__(self, "_rates", tuple(int(rate) for rate in rates))

    def cost_nanos(self, prompt_tokens: int, cached_tokens: int, completion_tokens: int) -> int:
        cached_tokens = min(cached_tokens, prompt_tokens)
        input_rate, cached_rate, output_rate = self._rates
        milli_nanos = (prompt_tokens - cached_tokens) * input_rate + cached_tokens * cached_rate
        milli_nanos += completion_tokens * output_rate
        return -(-milli_nanos // 1000)  # rounded up: a fraction of a nano-dollar is charged, never lost

    def max_cost_nanos(self, prompt_tokens: int, max_completion_tokens: int) -> int:
        """The most a request can cost: no cache discount, every allowed output token generated."""
        return self.cost_nanos(prompt_tokens, 0, max_completion_tokens)


@dataclass(frozen=True)
class PriceTable:
    taken_on: date
    models: dict[str, ModelPrice]
    fallback_model: str | None = None

    @classmethod
    def load(cls, path: Path = PRICES_FILE, *, fallback_model: str | None = None) -> PriceTable:
        raw: dict[str, Any] = json.loads(path.read_text(), parse_float=Decimal)
        models = {
            name: ModelPrice(
                input=Decimal(entry["input"]),
                cached_input=None if entry.get("cached_input") is None else Decimal(entry["cached_input"]),
                output=Decimal(entry["output"]),
            )
            for name, entry in raw["models"].items()
        }
        if fallback_model is not None and fallback_model not in models:
            raise ValueError(
                f"BUDGET_FALLBACK_MODEL {fallback_model!r} has no price in {path.name}; pick one of {sorted(models)}"
            )
        return cls(taken_on=date.fromisoformat(raw["taken_on"]), models=models, fallback_model=fallback_model)

    def price_for(self, model: str) -> ModelPrice:
        """The model's price, its base model's for a dated snapshot, else the fallback, else refuse."""
        name = base_model(model, self.models)
        if name is not None:
            return self.models[name]
        if self.fallback_model is not None:
            return self.models[self.fallback_model]
        raise UnknownModelPrice(model)
