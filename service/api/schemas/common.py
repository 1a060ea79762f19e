"""Pieces more than one endpoint's schema uses."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from service.settings import Settings


def _default(field: str) -> Any:
    return Settings.model_fields[field].default


# The examples name the default settings' models; the document puts the running service's own in their place.
DEFAULT_MODEL: str = _default("default_model")
EMBEDDING_MODEL: str = _default("embedding_model")


class PromptTokensDetails(BaseModel):
    cached_tokens: int | None = None


class CompletionTokensDetails(BaseModel):
    reasoning_tokens: int | None = None


class CompletionUsage(BaseModel):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int
    prompt_tokens_details: PromptTokensDetails | None = None
    completion_tokens_details: CompletionTokensDetails | None = None
