"""Embeddings and moderation through the official SDK."""

from __future__ import annotations

import math

import openai
import pytest

from service.stub import vectors
from service.stub.testing import StubServer


def _cosine(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True))


def test_embeddings_are_deterministic_and_normalised(client: openai.OpenAI) -> None:
    first = client.embeddings.create(model="text-embedding-3-small", input="The cat sat on the mat")
    second = client.embeddings.create(model="text-embedding-3-small", input="The cat sat on the mat")
    vector = first.data[0].embedding
    assert vector == second.data[0].embedding
    assert len(vector) == vectors.DEFAULT_DIMENSIONS
    assert math.isclose(math.sqrt(sum(x * x for x in vector)), 1.0, rel_tol=1e-6)
    assert first.model == "text-embedding-3-small"
    assert first.usage.prompt_tokens == 6


def test_texts_sharing_words_are_closer(client: openai.OpenAI) -> None:
    inputs = ["How do I rotate the API key?", "Rotating an API key takes one command.", "Penguins live in Antarctica."]
    response = client.embeddings.create(model="text-embedding-3-small", input=inputs)
    question, related, unrelated = (item.embedding for item in response.data)
    assert [item.index for item in response.data] == [0, 1, 2]
    assert _cosine(question, related) > 0.4
    assert _cosine(question, related) > _cosine(question, unrelated) + 0.3


def test_float_and_base64_encodings_agree(client: openai.OpenAI) -> None:
    # The SDK asks for base64 unless told otherwise and decodes it; float is what other clients get.
    as_base64 = client.embeddings.create(model="e", input="same words").data[0].embedding
    as_float = client.embeddings.create(model="e", input="same words", encoding_format="float").data[0].embedding
    assert as_base64 == pytest.approx(as_float, rel=1e-6)  # base64 carries float32


def test_dimensions_parameter(client: openai.OpenAI) -> None:
    response = client.embeddings.create(model="e", input="short", dimensions=64)
    assert len(response.data[0].embedding) == 64


def test_moderation_flags_the_marker_word(client: openai.OpenAI) -> None:
    response = client.moderations.create(input=["a friendly note", "please FLAG_ME now"])
    clean, flagged = response.results
    assert not clean.flagged
    assert not any(clean.categories.model_dump().values())
    assert flagged.flagged
    assert flagged.categories.harassment
    assert flagged.category_scores.harassment > 0.9


def test_moderation_marker_is_configurable(client: openai.OpenAI, stub: StubServer) -> None:
    stub.configure(moderation_marker="BANANA")
    assert client.moderations.create(input="BANANA split").results[0].flagged
    assert not client.moderations.create(input="FLAG_ME").results[0].flagged
