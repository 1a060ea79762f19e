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
        ({"default_max_tokens": 5000}, "DEFAULT_MAX_TOKENS must not exceed MAX_TOKENS_LIMIT"),
        ({"client_api_keys": {"plain-key": "team"}}, "store hashes, not keys"),
        ({"allowed_models": []}, "ALLOWED_MODELS is empty"),
    ],
)
def test_invalid_settings_name_the_variable(values: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        _settings(**values)


def test_dev_key_only_in_local_mode_without_keys() -> None:
    assert _settings().accepts_local_dev_key
    assert not _settings(client_api_keys={hash_client_key("k"): "team"}).accepts_local_dev_key


def test_readme_configuration_table_matches_the_settings() -> None:
    text = README.read_text()
    assert "<!-- settings-table:start -->" in text
    assert render(text) == text, "README.md's configuration table is stale: run `make docs`"
