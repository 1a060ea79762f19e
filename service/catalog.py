"""What the service knows about each OpenAI model: its kind, context window, output cap and reasoning efforts.

Request preparation (service.guardrails) caps output per model from this table, checks `reasoning_effort`
against it, and the settings refuse to allow a model it does not describe, as the budget refuses a model
without a price (service/budget/prices.json). Like the prices, these figures were written offline from
OpenAI's model pages as of 2026-12-01: re-check a model's page before you allow it.

Dated snapshots (`gpt-4.1-mini-2025-04-14`) are described by their base model unless listed themselves.
This module imports nothing of the service, so the settings and the stub can both use it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

_SNAPSHOT_SUFFIX: Final = re.compile(r"-\d{4}-\d{2}-\d{2}$")

# OpenAI's reasoning guide: "reserve at least 25,000 tokens for reasoning and outputs" when starting out.
# It is also what a reasoning request without max tokens reserves here: 512 would go to reasoning alone.
REASONING_DEFAULT_OUTPUT_TOKENS: Final = 25_000
CHAT_DEFAULT_OUTPUT_TOKENS: Final = 512
EMBEDDING_MAX_INPUT_TOKENS: Final = 8191  # per input, for every current embedding model


class ModelKind(StrEnum):
    CHAT = "chat"  # /v1/chat/completions and /v1/responses
    EMBEDDING = "embedding"  # /v1/embeddings
    MODERATION = "moderation"  # /v1/moderations (free)


@dataclass(frozen=True, slots=True)
class ModelSpec:
    kind: ModelKind
    context_window: int  # tokens, input and output together (embeddings: input per item)
    max_output_tokens: int = 0  # the model's own cap on completion tokens, reasoning included
    default_output_tokens: int = 0  # reserved and sent when a request sets no max tokens
    # The `reasoning_effort` values it accepts, least to most; empty: not a reasoning model.
    reasoning_efforts: tuple[str, ...] = ()
    default_effort: str | None = None  # what the model uses when a request names no effort
    dimensions: int = 0  # embeddings: length of a vector
    shortens: bool = False  # embeddings: accepts `dimensions` (a shorter vector)
    billed: bool = True  # False: OpenAI charges nothing for it (moderation), so it needs no price

    @property
    def reasoning(self) -> bool:
        return bool(self.reasoning_efforts)


def _chat(context: int, max_output: int) -> ModelSpec:
    return ModelSpec(ModelKind.CHAT, context, max_output, min(CHAT_DEFAULT_OUTPUT_TOKENS, max_output))


def _reasoning(context: int, max_output: int, efforts: tuple[str, ...], default: str) -> ModelSpec:
    return ModelSpec(ModelKind.CHAT, context, max_output, REASONING_DEFAULT_OUTPUT_TOKENS, efforts, default)


def _embedding(dimensions: int, *, shortens: bool) -> ModelSpec:
    return ModelSpec(ModelKind.EMBEDDING, EMBEDDING_MAX_INPUT_TOKENS, dimensions=dimensions, shortens=shortens)


_GPT5 = _reasoning(400_000, 128_000, ("minimal", "low", "medium", "high"), "medium")
_GPT5_1 = _reasoning(400_000, 128_000, ("none", "low", "medium", "high"), "none")
_GPT5_2 = _reasoning(400_000, 128_000, ("none", "low", "medium", "high", "xhigh"), "none")
_O_SERIES = _reasoning(200_000, 100_000, ("low", "medium", "high"), "medium")
_GPT4_1 = _chat(1_047_576, 32_768)
_GPT4O = _chat(128_000, 16_384)
_MODERATION = ModelSpec(ModelKind.MODERATION, 32_768, billed=False)

CATALOG: Final[Mapping[str, ModelSpec]] = {
    "gpt-5.2": _GPT5_2,
    "gpt-5.1": _GPT5_1,
    "gpt-5": _GPT5,
    "gpt-5-mini": _GPT5,
    "gpt-5-nano": _GPT5,
    "o3": _O_SERIES,
    "o3-mini": _O_SERIES,
    "o4-mini": _O_SERIES,
    "o1": _O_SERIES,
    "gpt-4.1": _GPT4_1,
    "gpt-4.1-mini": _GPT4_1,
    "gpt-4.1-nano": _GPT4_1,
    "gpt-4o": _GPT4O,
    "gpt-4o-2024-05-13": _chat(128_000, 4_096),
    "gpt-4o-mini": _GPT4O,
    "text-embedding-3-small": _embedding(1536, shortens=True),
    "text-embedding-3-large": _embedding(3072, shortens=True),
    "text-embedding-ada-002": _embedding(1536, shortens=False),
    "omni-moderation-latest": _MODERATION,
    "text-moderation-latest": _MODERATION,
}


def _names(model: str) -> Iterator[str]:
    yield model
    base = _SNAPSHOT_SUFFIX.sub("", model)
    if base != model:
        yield base


def base_model(model: str, known: Mapping[str, object]) -> str | None:
    """The entry of `known` that describes `model`: itself, or its base model for a dated snapshot."""
    return next((name for name in _names(model) if name in known), None)


def spec_for(model: str) -> ModelSpec | None:
    """The model's entry (or its base model's, for a dated snapshot); None for a model not described here."""
    name = base_model(model, CATALOG)
    return None if name is None else CATALOG[name]


def models_of_kind(kind: ModelKind) -> list[str]:
    return [name for name, spec in CATALOG.items() if spec.kind is kind]
