"""The price table is data with a date, covers the template's models, and never prices a model as free."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from service.budget import NANOS_PER_USD, PriceTable, UnknownModelPrice


def test_price_table_is_dated_and_lists_the_template_models() -> None:
    table = PriceTable.load()
    assert table.taken_on >= date(2025, 1, 1)
    for model in ("gpt-4o", "gpt-4o-mini", "gpt-4.1", "gpt-4.1-mini", "gpt-4.1-nano", "o4-mini"):
        price = table.price_for(model)
        assert price.input > 0
        assert price.output > 0
    assert table.price_for("text-embedding-3-small").input > 0


def test_cost_splits_cached_input_and_output() -> None:
    price = PriceTable.load().price_for("gpt-4o-mini")  # 0.15 in, 0.075 cached, 0.60 out per 1M
    cost = price.cost_nanos(prompt_tokens=1_000_000, cached_tokens=400_000, completion_tokens=1_000_000)
    assert Decimal(cost) / NANOS_PER_USD == Decimal("0.09") + Decimal("0.03") + Decimal("0.60")
    assert price.max_cost_nanos(100, 50) == price.cost_nanos(100, 0, 50)


def test_dated_snapshots_use_their_base_price_unless_listed() -> None:
    table = PriceTable.load()
    assert table.price_for("gpt-4.1-mini-2025-04-14") == table.price_for("gpt-4.1-mini")
    assert table.price_for("gpt-4o-2024-05-13") != table.price_for("gpt-4o")


def test_unknown_models_are_refused_or_priced_as_the_fallback() -> None:
    with pytest.raises(UnknownModelPrice, match="BUDGET_FALLBACK_MODEL"):
        PriceTable.load().price_for("gpt-9-turbo")
    table = PriceTable.load(fallback_model="gpt-4o")
    assert table.price_for("gpt-9-turbo") == table.price_for("gpt-4o")
    with pytest.raises(ValueError, match="BUDGET_FALLBACK_MODEL"):
        PriceTable.load(fallback_model="no-such-model")
