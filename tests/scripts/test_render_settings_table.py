""".env.example is generated from service.settings, checked for drift by `make lint`, and true to the defaults."""

from __future__ import annotations

from pathlib import Path

import pytest

from scripts import render_settings_table
from scripts.render_settings_table import ENV_EXAMPLE, env_example
from service.settings import Settings, env_name, settings_from_environment


def example_lines() -> dict[str, str]:
    """Every `# NAME=value` line of .env.example, uncommented, as the dotenv reader would take it."""
    lines = [line.removeprefix("# ") for line in ENV_EXAMPLE.read_text().splitlines()]
    pairs = [line.split("=", 1) for line in lines if "=" in line and line.split("=", 1)[0].isupper()]
    return dict(pairs)


def test_env_example_is_current() -> None:
    assert ENV_EXAMPLE.read_text() == env_example(), ".env.example drifted from service/settings.py: run `make docs`"


def test_env_example_names_every_setting_once() -> None:
    assert sorted(example_lines()) == sorted(env_name(field) for field in Settings.model_fields)


def test_uncommenting_every_line_of_env_example_changes_no_setting() -> None:
    from_example = settings_from_environment(example_lines())

    assert from_example.model_dump() == settings_from_environment({}).model_dump()


def test_the_check_fails_on_drift_and_changes_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    stale = tmp_path / ".env.example"
    stale.write_text(env_example().replace("# PORT=8000", "# PORT=9000"))
    readme = tmp_path / "README.md"
    readme.write_text(render_settings_table.render(render_settings_table.README.read_text()))
    monkeypatch.setattr(render_settings_table, "ENV_EXAMPLE", stale)
    monkeypatch.setattr(render_settings_table, "README", readme)

    assert render_settings_table.main(check=True) == 1
    assert "# PORT=9000" in stale.read_text()
    assert render_settings_table.main(check=False) == 0
    assert stale.read_text() == env_example()
    assert render_settings_table.main(check=True) == 0
