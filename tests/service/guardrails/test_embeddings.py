"""`prepare_embeddings_request` in process: allowed models, input limits, dimensions and the prepared shape."""

from __future__ import annotations

from typing import Any

import pytest

from service.errors import InvalidRequest, ModelNotFound
from service.guardrails import Endpoint, end_user_id, prepare_embeddings_request
from service.ratelimit import count_text_tokens

from .conftest import make_settings


def _prepare(body: dict[str, Any], **settings: Any) -> Any:
    return prepare_embeddings_request(body, make_settings(**settings), "acme")


def test_embeddings_default_to_the_answers_model_and_meter_input_only() -> None:
    prepared = _prepare({"input": ["one text", "another text"], "user": "bob"})
    assert prepared.endpoint is Endpoint.EMBEDDINGS
    assert prepared.model == prepared.params["model"] == "text-embedding-3-small"
    assert (prepared.stream, prepared.include_usage, prepared.max_output_tokens, prepared.n) == (False, False, 0, 1)
    assert prepared.params["user"] == end_user_id("acme", "bob")
    assert prepared.input_text == "one text\nanother text"
    assert prepared.estimate_input_tokens() == count_text_tokens("one text") + count_text_tokens("another text")


def test_token_id_inputs_count_one_token_each() -> None:
    assert _prepare({"input": [1, 2, 3]}).estimate_input_tokens() == 3
    assert _prepare({"input": [[1, 2], [3]]}).estimate_input_tokens() == 3


def test_only_allowed_embedding_models_are_served() -> None:
    with pytest.raises(ModelNotFound):
        _prepare({"model": "text-embedding-3-large", "input": "x"})
    with pytest.raises(ModelNotFound):
        _prepare({"model": "gpt-4o-mini", "input": "x"})
    allowed = {"allowed_embedding_models": ["text-embedding-3-large", "text-embedding-ada-002"]}
    assert _prepare({"model": "text-embedding-3-large", "input": "x"}, **allowed).model == "text-embedding-3-large"


def test_dimensions_only_for_models_that_shorten_vectors() -> None:
    allowed = {"allowed_embedding_models": ["text-embedding-3-small", "text-embedding-ada-002"]}
    assert _prepare({"input": "x", "dimensions": 256}, **allowed).params["dimensions"] == 256
    for body, fragment in [
        ({"model": "text-embedding-ada-002", "input": "x", "dimensions": 256}, "does not take dimensions"),
        ({"input": "x", "dimensions": 1537}, "at most 1536"),
        ({"input": "x", "dimensions": "256"}, "integer"),
    ]:
        with pytest.raises(InvalidRequest, match=fragment) as refused:
            _prepare(body, **allowed)
        assert refused.value.param == "dimensions"


@pytest.mark.parametrize(
    ("body", "settings", "param", "fragment"),
    [
        ({"input": ["x"] * 3}, {"embeddings_max_inputs": 2}, "input", "EMBEDDINGS_MAX_INPUTS"),
        ({"input": ["ok", "x" * 11]}, {"embeddings_max_input_chars": 10}, "input[1]", "EMBEDDINGS_MAX_INPUT_CHARS"),
        ({"input": ["x" * 6] * 2}, {"embeddings_max_total_chars": 10}, "input", "EMBEDDINGS_MAX_TOTAL_CHARS"),
        ({"input": [[1] * 8192]}, {}, "input[0]", "at most 8191"),
        ({"input": ""}, {}, "input", "non-empty"),
        ({"input": ["a", ""]}, {}, "input", "non-empty"),
        ({"input": []}, {}, "input", "non-empty"),
        ({"input": [1.5]}, {}, "input", "token ids"),
        ({}, {}, "input", "required"),
        ({"input": "x", "encoding_format": "hex"}, {}, "encoding_format", "'float' or 'base64'"),
    ],
)
def test_input_limits_name_the_field_and_the_setting(
    body: dict[str, Any], settings: dict[str, Any], param: str, fragment: str
) -> None:
    with pytest.raises(InvalidRequest, match=fragment) as refused:
        _prepare(body, **settings)
    assert refused.value.param == param


def test_openai_allows_2048_inputs_and_the_setting_cannot_exceed_it() -> None:
    assert len(_prepare({"input": ["x"] * 2048}).params["input"]) == 2048
    with pytest.raises(ValueError, match="2048"):
        make_settings(embeddings_max_inputs=2049)
