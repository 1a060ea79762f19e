"""Smoke-test a running service through its public URL, the way a client uses it.

    uv run python scripts/smoke_test.py --base-url https://api.example.com --api-key <client key>
    SMOKE_BASE_URL=... SMOKE_API_KEY=... uv run python scripts/smoke_test.py

Checks, in order, stopping at the first failure: GET /healthz answers 200; GET /v1/models lists a
model; one chat completion; one streamed chat completion that ends with a usage chunk. The API calls
go through the official `openai` SDK, so a pass means an OpenAI client works against this URL.

Exit status: 0 when every check passed, 1 when one failed, 2 on bad usage. The API key is never
printed: every line of output is scrubbed of it.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import openai

from service.contract import HEALTH_PATH

BASE_URL_ENV = "SMOKE_BASE_URL"
API_KEY_ENV = "SMOKE_API_KEY"
PROMPT = "Reply with the single word: pong"

# Policy numbers: a fresh deployment may need a minute before the load balancer routes to it;
# each API call gets the SDK's own bounded retries (408/409/429/5xx, connection errors).
DEFAULT_WAIT_SECONDS = 60.0
HEALTH_POLL_SECONDS = 5.0
DEFAULT_TIMEOUT_SECONDS = 60.0
SDK_MAX_RETRIES = 2


class SmokeFailure(Exception):
    """A check failed; the message says which and why."""


@dataclass(frozen=True)
class Target:
    base_url: str
    api_key: str
    model: str | None
    wait_seconds: float
    timeout_seconds: float


class Reporter:
    """Prints one line per check, with the API key scrubbed from everything it prints."""

    def __init__(self, secret: str) -> None:
        self._secret = secret

    def line(self, text: str) -> None:
        if self._secret:
            text = text.replace(self._secret, "***")
        print(text, flush=True)


def parse_args(argv: Sequence[str] | None) -> Target:
    parser = argparse.ArgumentParser(
        prog="smoke_test.py", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--base-url", default=os.environ.get(BASE_URL_ENV), help=f"or ${BASE_URL_ENV}")
    parser.add_argument(
        "--api-key",
        default=os.environ.get(API_KEY_ENV),
        help=f"a client key of the service; prefer ${API_KEY_ENV} so it stays out of process listings",
    )
    parser.add_argument("--model", help="model to call (default: the first one GET /v1/models lists)")
    parser.add_argument(
        "--wait-seconds",
        type=float,
        default=DEFAULT_WAIT_SECONDS,
        help="how long to wait for /healthz to answer 200 (default: %(default)s)",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=DEFAULT_TIMEOUT_SECONDS,
        help="per-request timeout in seconds (default: %(default)s)",
    )
    args = parser.parse_args(argv)
    if not args.base_url:
        parser.error(f"set --base-url or ${BASE_URL_ENV}")
    if not args.api_key:
        parser.error(f"set ${API_KEY_ENV} (or --api-key)")
    if args.wait_seconds < 0 or args.timeout <= 0:
        parser.error("--wait-seconds must be >= 0 and --timeout > 0")
    base_url = args.base_url.rstrip("/")
    if base_url.endswith("/v1"):
        base_url = base_url.removesuffix("/v1")
    if not base_url.startswith(("http://", "https://")):
        parser.error(f"--base-url must start with http:// or https://, got {base_url!r}")
    return Target(base_url, args.api_key, args.model, args.wait_seconds, args.timeout)


def http_status(url: str, timeout: float) -> int | str:
    """The status code of GET url, or a short description of why there is none."""
    if not url.startswith(("http://", "https://")):
        raise ValueError(f"not an HTTP URL: {url}")
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 (scheme checked above)
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return exc.code
    except (urllib.error.URLError, OSError) as exc:
        return f"{type(exc).__name__}: {getattr(exc, 'reason', exc)}"


def check_health(target: Target, report: Reporter) -> str:
    url = f"{target.base_url}{HEALTH_PATH}"
    deadline = time.monotonic() + target.wait_seconds
    while True:
        status = http_status(url, timeout=min(target.timeout_seconds, 10.0))
        if status == 200:
            return f"GET {HEALTH_PATH} -> 200"
        if time.monotonic() + HEALTH_POLL_SECONDS > deadline:
            raise SmokeFailure(f"GET {url} did not answer 200 within {target.wait_seconds:.0f}s (last: {status})")
        report.line(f"  waiting for {HEALTH_PATH}: {status}")
        time.sleep(HEALTH_POLL_SECONDS)


def check_models(client: openai.OpenAI, target: Target) -> tuple[str, str]:
    listed = [model.id for model in client.models.list()]
    if not listed:
        raise SmokeFailure("GET /v1/models listed no models")
    if target.model is None:
        return listed[0], f"{len(listed)} listed; using {listed[0]}"
    if target.model not in listed:
        raise SmokeFailure(f"--model {target.model!r} is not among the listed models {listed}")
    return target.model, f"{len(listed)} listed; using {target.model}"


def check_completion(client: openai.OpenAI, model: str) -> str:
    completion = client.chat.completions.create(model=model, messages=[{"role": "user", "content": PROMPT}])
    if not completion.choices:
        raise SmokeFailure("the chat completion has no choices")
    content = completion.choices[0].message.content
    if not content:
        raise SmokeFailure(f"the chat completion has no content (finish_reason={completion.choices[0].finish_reason})")
    tokens = completion.usage.total_tokens if completion.usage else "no usage"
    return f"{content.strip()[:40]!r} ({tokens} tokens)"


def check_stream(client: openai.OpenAI, model: str) -> str:
    stream = client.chat.completions.create(
        model=model,
        messages=[{"role": "user", "content": PROMPT}],
        stream=True,
        stream_options={"include_usage": True},
    )
    pieces: list[str] = []
    chunks = 0
    usage = None
    for chunk in stream:
        chunks += 1
        for choice in chunk.choices:
            if choice.delta.content:
                pieces.append(choice.delta.content)
        if chunk.usage is not None:
            usage = chunk.usage
    if not pieces:
        raise SmokeFailure(f"the stream carried no content ({chunks} chunks)")
    if usage is None:
        raise SmokeFailure("the stream ended without a usage chunk (stream_options.include_usage)")
    return f"{''.join(pieces).strip()[:40]!r} in {chunks} chunks ({usage.total_tokens} tokens)"


def run(target: Target, report: Reporter) -> int:
    report.line(f"Smoke test of {target.base_url}")
    client = openai.OpenAI(
        base_url=f"{target.base_url}/v1",
        api_key=target.api_key,
        timeout=target.timeout_seconds,
        max_retries=SDK_MAX_RETRIES,
    )
    model = target.model or ""

    def models() -> str:
        nonlocal model
        model, detail = check_models(client, target)
        return detail

    checks: list[tuple[str, Callable[[], str]]] = [
        ("health", lambda: check_health(target, report)),
        ("models", models),
        ("chat completion", lambda: check_completion(client, model)),
        ("streamed chat completion", lambda: check_stream(client, model)),
    ]
    for name, check in checks:
        started = time.monotonic()
        try:
            detail = check()
        except (SmokeFailure, openai.OpenAIError) as exc:
            report.line(f"FAIL {name}: {describe(exc)}")
            report.line("Smoke test failed.")
            return 1
        report.line(f"PASS {name}: {detail} [{time.monotonic() - started:.2f}s]")
    report.line("Smoke test passed.")
    return 0


def describe(exc: Exception) -> str:
    if isinstance(exc, openai.APIStatusError):
        return f"HTTP {exc.status_code} from {exc.request.method} {exc.request.url.path}: {exc.message}"
    if isinstance(exc, openai.APIConnectionError):
        return f"{type(exc).__name__}: {exc} ({exc.request.url})"
    return str(exc)


def main(argv: Sequence[str] | None = None) -> int:
    target = parse_args(argv)
    return run(target, Reporter(target.api_key))


if __name__ == "__main__":
    sys.exit(main())
