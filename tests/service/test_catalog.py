"""The model catalog: names and reasoning efforts the official SDK knows, and snapshots resolved to their base."""

from __future__ import annotations

from typing import get_args

from openai.types import EmbeddingModel, ModerationModel
from openai.types.shared import ChatModel, ReasoningEffort

from service.catalog import CATALOG, ModelKind, models_of_kind, spec_for


def _literal_values(alias: object) -> set[str]:
    values: set[str] = set()
    for arg in get_args(alias):  # Literal[...] values, through Optional and Union
        if isinstance(arg, str):
            values.add(arg)
        elif get_args(arg):
            values |= _literal_values(arg)
    return values


def test_every_model_is_one_the_sdk_names() -> None:
    assert set(models_of_kind(ModelKind.CHAT)) <= _literal_values(ChatModel)
    assert set(models_of_kind(ModelKind.EMBEDDING)) <= _literal_values(EmbeddingModel)
    assert set(models_of_kind(ModelKind.MODERATION)) <= _literal_values(ModerationModel)


def test_reasoning_efforts_are_values_the_sdk_accepts() -> None:
    efforts = _literal_values(ReasoningEffort)
    for name, spec in CATALOG.items():
        assert set(spec.reasoning_efforts) <= efforts, name
        assert spec.default_effort is None or spec.default_effort in spec.reasoning_efforts, name


def test_chat_models_cap_and_default_their_output_sensibly() -> None:
    for name in models_of_kind(ModelKind.CHAT):
        spec = CATALOG[name]
        assert 0 < spec.default_output_tokens <= spec.max_output_tokens < spec.context_window, name
        assert (spec.default_output_tokens >= 25_000) == spec.reasoning, name


def test_dated_snapshots_are_described_by_their_base_model_unless_listed() -> None:
    assert spec_for("gpt-5-mini-2025-08-07") is CATALOG["gpt-5-mini"]
    assert spec_for("gpt-4o-2024-05-13") is CATALOG["gpt-4o-2024-05-13"]
    assert spec_for("gpt-4o-2024-08-06") is CATALOG["gpt-4o"]
    assert spec_for("gpt-9") is None
    assert spec_for("ft:gpt-4o-mini:acme::abc123") is None
