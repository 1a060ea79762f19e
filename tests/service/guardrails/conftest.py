"""Settings built in process, from values only (no .env, no environment)."""

from __future__ import annotations

from typing import Any

from service.settings import Settings


def make_settings(**values: Any) -> Settings:
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]
