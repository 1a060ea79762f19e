"""Settings validation: each bad value is refused with a message naming the variable and the fix."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from scripts.render_settings_table import README, render
from service.settings import Settings, hash_client_key


def _settings(**values: object) -> Settings:
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


def test_lists_accept_json_or_commas(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALLOWED_MODELS", "gpt-4o-mini, gpt-4.1")
    assert Settings().allowed_models == ["gpt-4o-mini", "gpt-4.1"]
    monkeypatch.setenv("ALLOWED_MODELS", '["gpt-4.1"]')
    monkeypatch.setenv("DEFAULT_MODEL", "gpt-4.1")
    assert Settings().allowed_models == ["gpt-4.1"]


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"environment": "staging", "openai_api_key": "sk-x"}, "CLIENT_API_KEYS is empty in ENVIRONMENT=staging"),
        ({"environment": "prod", "client_api_keys": {hash_client_key("k"): "c"}}, "set OPENAI_API_KEY_SECRET_ARN"),
        ({"default_model": "gpt-9"}, "DEFAULT_MODEL 'gpt-9' is not in ALLOWED_MODELS"),
        ({"allowed_models": ["gpt-4o-mini", "gpt-9"]}, "ALLOWED_MODELS: 'gpt-9' is not among the chat models"),
        ({"allowed_models": ["gpt-4o-mini", "text-embedding-3-small"]}, "ALLOWED_MODELS: 'text-embedding-3-small'"),
        ({"allowed_embedding_models": ["gpt-4o"]}, "ALLOWED_EMBEDDING_MODELS: 'gpt-4o' is not among the embedding"),
        ({"embedding_model": "text-embedding-4"}, "EMBEDDING_MODEL: 'text-embedding-4' is not among the embedding"),
        ({"embedding_dimensions": 4096}, "EMBEDDING_DIMENSIONS must be at most 1536"),
        (
            {"embedding_model": "text-embedding-ada-002", "embedding_dimensions": 256},
            "EMBEDDING_DIMENSIONS: text-embedding-ada-002 does not take `dimensions`",
        ),
        ({"moderation_enabled": True, "moderation_model": "gpt-4o"}, "MODERATION_MODEL 'gpt-4o' is not a moderation"),
        ({"max_output_tokens_limit": 8}, "max_output_tokens_limit"),
        ({"embeddings_max_inputs": 4096}, "embeddings_max_inputs"),
        ({"client_api_keys": {"plain-key": "team"}}, "store hashes, not keys"),
        ({"allowed_models": []}, "ALLOWED_MODELS is empty"),
    ],
)
def test_invalid_settings_name_the_variable(values: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        _settings(**values)


def test_embedding_allow_list_defaults_to_the_answers_model() -> None:
    assert _settings(embedding_model="text-embedding-3-large").embedding_models == ["text-embedding-3-large"]
    configured = _settings(allowed_embedding_models="text-embedding-3-small,text-embedding-ada-002")
    assert configured.embedding_models == ["text-embedding-3-small", "text-embedding-ada-002"]


def test_dated_snapshots_of_known_models_may_be_allowed() -> None:
    assert _settings(allowed_models=["gpt-4o-mini", "gpt-4.1-mini-2025-04-14"]).allowed_models[1].endswith("04-14")


def test_dev_key_only_in_local_mode_without_keys() -> None:
    assert _settings().accepts_local_dev_key
    assert not _settings(client_api_keys={hash_client_key("k"): "team"}).accepts_local_dev_key


def test_readme_configuration_table_matches_the_settings() -> None:
    text = README.read_text()
    assert "<!-- settings-table:start -->" in text
    assert render(text) == text, "README.md's configuration table is stale: run `make docs`"
