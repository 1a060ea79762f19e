"""The model objects `/v1/models` answers with, and the cap the OpenAPI document states."""

from __future__ import annotations

import pytest

from service.errors import ModelNotFound
from service.guardrails import largest_output_cap, lookup_model, served_models

from .conftest import make_settings


def test_lookup_model_answers_allowed_chat_and_embedding_models() -> None:
    settings = make_settings(allowed_models=["gpt-4o-mini", "gpt-5"])
    assert lookup_model(settings, "gpt-5") == {"id": "gpt-5", "object": "model", "created": 0, "owned_by": "openai"}
    assert lookup_model(settings, "text-embedding-3-small")["id"] == "text-embedding-3-small"
    assert [model["id"] for model in served_models(settings)] == ["gpt-4o-mini", "gpt-5", "text-embedding-3-small"]


@pytest.mark.parametrize("model", ["gpt-4.1", "gpt-9", "text-embedding-3-large", "omni-moderation-latest"])
def test_lookup_model_refuses_what_is_not_served_with_404(model: str) -> None:
    with pytest.raises(ModelNotFound) as refused:
        lookup_model(make_settings(allowed_models=["gpt-4o-mini"]), model)
    assert refused.value.status_code == 404
    assert refused.value.param == "model"


def test_largest_output_cap_is_the_highest_allowed_models_cap() -> None:
    assert largest_output_cap(make_settings(allowed_models=["gpt-4o-mini", "gpt-4.1"])) == 32_768  # gpt-4.1's
    assert largest_output_cap(make_settings()) == 128_000  # gpt-5.1's, among the default models
    assert largest_output_cap(make_settings(allowed_models=["gpt-4o-mini", "gpt-5"])) == 128_000
    assert largest_output_cap(make_settings(max_output_tokens_limit=4096)) == 4096
