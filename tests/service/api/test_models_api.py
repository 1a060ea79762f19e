"""`GET /v1/models` and `GET /v1/models/{model}` with the official Python SDK, and OpenAI's 404 for a model
this service does not serve, on every endpoint that names one."""

from __future__ import annotations

import openai
import pytest

from service.stub.testing import StubServer
from tests.support.service import ServiceProcess


def test_the_list_holds_the_chat_and_the_embedding_models(service: ServiceProcess) -> None:
    ids = [model.id for model in service.client().models.list()]
    assert "gpt-4o-mini" in ids
    assert "text-embedding-3-small" in ids


def test_a_served_model_is_retrieved(service: ServiceProcess) -> None:
    model = service.client().models.retrieve("gpt-4o-mini")
    assert (model.id, model.object, model.owned_by) == ("gpt-4o-mini", "model", "openai")


def test_a_model_not_served_is_the_sdks_not_found_error(service: ServiceProcess) -> None:
    with pytest.raises(openai.NotFoundError) as missing:
        service.client().models.retrieve("gpt-unknown")
    assert missing.value.code == "model_not_found"


def test_chat_with_an_unknown_model_is_not_found_before_any_upstream_call(
    service: ServiceProcess, stub: StubServer
) -> None:
    with pytest.raises(openai.NotFoundError) as missing:
        service.client().chat.completions.create(model="gpt-unknown", messages=[{"role": "user", "content": "hi"}])
    assert (missing.value.code, missing.value.param) == ("model_not_found", "model")
    assert stub.requests_to("/v1/chat/completions") == 0


def test_models_need_a_client_key(service: ServiceProcess) -> None:
    with pytest.raises(openai.AuthenticationError):
        service.client(api_key="not-a-key").models.retrieve("gpt-4o-mini")
