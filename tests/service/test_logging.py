"""Secrets are scrubbed from every log line, whichever logger wrote it."""

from __future__ import annotations

import logging

import pytest
import structlog

from service.logging import REDACTED, configure_logging, register_secret, scrub


def test_registered_secrets_and_key_shaped_strings_are_scrubbed() -> None:
    register_secret("rotating-value-1234567890")
    assert scrub("key=rotating-value-1234567890 end") == f"key={REDACTED} end"
    assert scrub("Incorrect API key provided: sk-proj-abcdEFGH1234") == f"Incorrect API key provided: {REDACTED}"
    assert scrub("nothing secret") == "nothing secret"


def test_both_structlog_and_stdlib_records_are_scrubbed(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("info")
    register_secret("another-secret-value-42")
    structlog.get_logger("t").info("event", detail={"nested": ["another-secret-value-42"]})
    logging.getLogger("gunicorn.error").warning("boot with sk-live-0123456789abcdef")
    out = capsys.readouterr().out
    assert "another-secret-value-42" not in out
    assert "sk-live-0123456789abcdef" not in out
    assert out.count(REDACTED) == 2
