"""Secrets are scrubbed from every log line, whichever logger wrote it."""

from __future__ import annotations

import io
import json
import logging
import sys

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


def test_our_lines_and_the_standard_librarys_share_one_shape_and_the_level(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("warning")
    ours = structlog.get_logger("service.shape")
    ours.info("below the level")  # filtered before any work
    ours.warning("ours", n=1)
    logging.getLogger("gunicorn.error").info("below the level too")
    logging.getLogger("gunicorn.error").warning("theirs")
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [line["event"] for line in lines] == ["ours", "theirs"]
    for line, logger in zip(lines, ["service.shape", "gunicorn.error"], strict=True):
        assert line["level"] == "warning"
        assert line["logger"] == logger
        assert line["timestamp"].endswith("Z")
    configure_logging("info")


def test_a_logger_made_before_stdout_was_swapped_still_writes_to_the_current_one(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure_logging("info")
    early = structlog.get_logger("service.early")
    early.info("first")  # the logger is cached on its first use, with the stdout of that moment
    capsys.readouterr()
    swapped = io.StringIO()
    real, sys.stdout = sys.stdout, swapped
    try:
        early.info("second")
    finally:
        sys.stdout = real
    assert json.loads(swapped.getvalue())["event"] == "second"
