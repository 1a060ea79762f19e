"""The price table is data with a date, covers the template's models, and never prices a model as free."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal

import pytest

from service.budget import NANOS_PER_USD, PriceTable, UnknownModelPrice
from service.budget.prices import PRICES_FILE
from service.catalog import CATALOG, ModelKind
from service.settings import Settings


def test_price_table_is_dated_and_names_its_source() -> None:
    table = PriceTable.load()
    assert table.taken_on >= date(2026, 12, 1)
    raw = json.loads(PRICES_FILE.read_text())
    assert raw["source"].startswith("OpenAI API pricing")
    assert "re-check" in raw["note"]


def test_every_allow_listed_model_has_a_price() -> None:
    settings = Settings(_env_file=None, moderation_enabled=True)  # type: ignore[call-arg]
    table = PriceTable.load()
    billed = [*settings.allowed_models, *settings.embedding_models]
    if CATALOG[settings.moderation_model].billed:  # OpenAI's moderation is free today
        billed.append(settings.moderation_model)
    for model in billed:
        price = table.price_for(model)
        assert price.input > 0, model


@pytest.mark.parametrize("model", [name for name, spec in CATALOG.items() if spec.billed])
def test_every_model_the_service_knows_has_a_price_and_none_is_free(model: str) -> None:
    price = PriceTable.load().price_for(model)
    assert price.input > 0
    assert (price.output > 0) == (CATALOG[model].kind is ModelKind.CHAT)
    if price.cached_input is not None:
        assert price.cached_input < price.input


def test_the_gpt5_family_and_the_o_series_are_priced() -> None:
    table = PriceTable.load()
    for model in ("gpt-5", "gpt-5-mini", "gpt-5-nano", "gpt-5.1", "gpt-5.2", "o1", "o3", "o3-mini", "o4-mini"):
        assert table.price_for(model).output > table.price_for(model).input
    assert table.price_for("gpt-5-nano").input < table.price_for("gpt-5-mini").input < table.price_for("gpt-5").input


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
