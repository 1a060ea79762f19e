"""/docs as a person uses it: headless Chromium (Debian's package, driven by Playwright) against `make run`'s app.

`python -m service.local` is started as `make run` starts it (gunicorn, and the local stub upstream since no
OpenAI key is set); the test reads the dev key from its log, as a person would, then: `/` redirects to the
page, the page lists the endpoints, Authorize takes the key, and POST /v1/chat/completions with its example
body ("Try it out", "Execute") shows a 200. Every request the page makes must go to the service itself
(anything else is refused and fails the test), and the browser must report no error, so a CDN asset or a
Content-Security-Policy violation fails it. The screenshot is written to artifacts/browser/ (gitignored).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import ConsoleMessage, Page, Route, expect, sync_playwright

from service.contract import HEALTH_PATH
from service.stub.testing import HOST, free_port
from tests.support.service import _SCRUBBED, REPO_ROOT

ARTIFACTS = REPO_ROOT / "artifacts" / "browser"
STARTUP_SECONDS = 60.0
UI_TIMEOUT_MS = 30_000
DOCUMENTED = {"/v1/chat/completions", "/v1/answers", "/v1/models", "/v1/usage", "/healthz"}


@dataclass
class LocalService:
    url: str
    log_path: Path

    def dev_key(self) -> str:
        """The key the service prints when it accepts the local dev key (service/main.py)."""
        for line in self.log_path.read_text(errors="replace").splitlines():
            if '"local_dev_key_enabled"' in line:
                key: str = json.loads(line)["key"]
                return key
        pytest.fail(f"the service printed no dev key:\n{self.log_path.read_text(errors='replace')[-3000:]}")


def _chromium() -> str:
    found = shutil.which("chromium")
    if found is None:
        pytest.fail(
            "chromium is not installed; the /docs browser test needs Debian's. Install it with "
            "`bash scripts/ensure-system-tools.sh chromium` (or `apt-get install chromium`); `make test` does this."
        )
    return found


def _wait_healthy(process: subprocess.Popen[bytes], url: str, log_path: Path) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"`python -m service.local` exited ({process.returncode}):\n{log_path.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url + HEALTH_PATH, timeout=1):  # noqa: S310 - loopback
                return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.2)
    pytest.fail(f"the service was not healthy within {STARTUP_SECONDS}s:\n{log_path.read_text()[-3000:]}")


@pytest.fixture(scope="module")
def local_service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalService]:
    """`make run`'s command on a free loopback port, one worker, with no OpenAI key: the local stub answers."""
    port = free_port()
    env = {name: value for name, value in os.environ.items() if name not in _SCRUBBED}
    env |= {"HOST": HOST, "PORT": str(port), "WEB_CONCURRENCY": "1", "PYTHONUNBUFFERED": "1"}
    log_path = tmp_path_factory.mktemp("local") / "service.log"
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(
            [sys.executable, "-m", "service.local"],
            cwd=REPO_ROOT,
            env=env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its gunicorn and stub are stopped with it
        )
    try:
        service = LocalService(f"http://{HOST}:{port}", log_path)
        _wait_healthy(process, service.url, log_path)
        yield service
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def _only_the_service(page: Page, origin: str, elsewhere: list[str]) -> None:
    def route(route: Route) -> None:
        if route.request.url.startswith(origin + "/"):
            route.continue_()
        else:
            elsewhere.append(route.request.url)
            route.abort()

    page.route("**/*", route)


def _try_chat_completions(page: Page, url: str, key: str) -> None:
    """What a person does: open the docs, authorize, try POST /v1/chat/completions with its example."""
    page.goto(url + "/")
    expect(page).to_have_url(url + "/docs", timeout=UI_TIMEOUT_MS)
    paths = page.locator(".opblock-summary-path")
    expect(paths.first).to_be_visible(timeout=UI_TIMEOUT_MS)
    assert {path.get_attribute("data-path") for path in paths.all()} >= DOCUMENTED

    page.locator("button.authorize").first.click()
    page.locator("#auth-bearer-value").fill(key)
    page.locator(".modal-ux button.authorize").click()
    page.locator(".modal-ux button.btn-done").click()

    chat = page.locator(".opblock-post").filter(
        has=page.locator('.opblock-summary-path[data-path="/v1/chat/completions"]')
    )
    chat.locator(".opblock-summary").click()
    chat.locator("button.try-out__btn").click()
    chat.locator("button.execute").click()
    answer = chat.locator(".live-responses-table .response")
    expect(answer.locator(".response-col_status")).to_have_text("200", timeout=UI_TIMEOUT_MS)
    expect(answer.locator(".response-col_description")).to_contain_text('"chat.completion"')
    chat.scroll_into_view_if_needed()


def test_try_it_out_with_the_dev_key_answers_200(
    local_service: LocalService, capsys: pytest.CaptureFixture[str]
) -> None:
    key = local_service.dev_key()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    screenshot = ARTIFACTS / "docs-chat-completions.png"
    elsewhere: list[str] = []
    browser_errors: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        if message.type in ("error", "warning"):
            browser_errors.append(message.text)

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=_chromium())
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 2000})
            page.set_default_timeout(UI_TIMEOUT_MS)
            page.on("console", on_console)
            page.on("pageerror", lambda error: browser_errors.append(str(error)))
            _only_the_service(page, local_service.url, elsewhere)
            try:
                _try_chat_completions(page, local_service.url, key)
            finally:  # what the page showed, passed or failed
                page.screenshot(path=str(screenshot))
                with capsys.disabled():
                    print(f"\n/docs in Chromium ({browser.version}), screenshot: {screenshot}")
        finally:
            browser.close()

    assert elsewhere == [], "the page asked for something other than the service itself"
    assert browser_errors == [], "the browser reported errors (a CSP violation, a failed asset, a script error)"
