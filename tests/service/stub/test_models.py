"""The model list and single-model lookups, as OpenAI answers them."""

from __future__ import annotations

import openai
import pytest

from service.catalog import CATALOG


def test_models_list_every_model_of_the_catalog(client: openai.OpenAI) -> None:
    models = client.models.list().data
    assert [model.id for model in models] == list(CATALOG)
    assert all(model.object == "model" for model in models)


def test_a_listed_model_is_retrieved(client: openai.OpenAI) -> None:
    model = client.models.retrieve("gpt-5-mini")
    assert (model.id, model.object, model.owned_by) == ("gpt-5-mini", "model", "stub")


def test_an_unknown_model_is_404_model_not_found(client: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as raised:
        client.models.retrieve("gpt-9-turbo")
    assert raised.value.code == "model_not_found"
    assert raised.value.param == "model"
    assert raised.value.type == "invalid_request_error"
    assert "gpt-9-turbo" in raised.value.message
