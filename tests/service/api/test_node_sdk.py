"""The official Node.js SDK (npm `openai`, pinned in node_sdk/package-lock.json) against gunicorn + the stub.

Clients in other languages are half the users: every endpoint a Node client calls, and the 404 it gets
for a model this service does not serve, raised as the SDK's own NotFoundError.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from service.stub.testing import StubServer
from tests.support.service import ServiceProcess

CLIENT = Path(__file__).with_name("node_sdk") / "client.mjs"


@pytest.fixture(scope="module")
def node_results(service: ServiceProcess, stub_server: StubServer) -> dict[str, Any]:
    if not (CLIENT.parent / "node_modules" / "openai").is_dir():
        pytest.fail(
            "the Node SDK is not installed: run `bash scripts/npm-ci.sh tests/service/api/node_sdk` (make test does)"
        )
    env = os.environ | {
        "SERVICE_BASE_URL": service.base_url,
        "SERVICE_API_KEY": service.api_key,
        "CHAT_MODEL": "gpt-4o-mini",
        "EMBEDDING_MODEL": "text-embedding-3-small",
    }
    done = subprocess.run(["node", str(CLIENT)], env=env, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    results: dict[str, Any] = json.loads(done.stdout)
    return results


def test_chat_completions(node_results: dict[str, Any]) -> None:
    chat = node_results["chat"]
    assert chat["object"] == "chat.completion"
    assert chat["text"]
    assert chat["usage"]["total_tokens"] == chat["usage"]["prompt_tokens"] + chat["usage"]["completion_tokens"]


def test_responses_plain_and_streamed(node_results: dict[str, Any]) -> None:
    response, stream = node_results["response"], node_results["stream"]
    assert (response["object"], response["status"]) == ("response", "completed")
    assert response["text"]
    assert response["usage"]["output_tokens"] > 0
    assert stream["events"][0] == "response.created"
    assert stream["events"][-1] == "response.completed"
    assert stream["text"] == stream["completed_text"] != ""
    assert stream["usage"]["input_tokens"] > 0


def test_embeddings_and_model_lookup(node_results: dict[str, Any]) -> None:
    embeddings = node_results["embeddings"]
    assert embeddings["count"] == 2
    assert embeddings["dimensions"] > 0
    assert embeddings["usage"]["prompt_tokens"] > 0
    assert node_results["model"] == {"id": "gpt-4o-mini", "object": "model"}


@pytest.mark.parametrize("endpoint", ["chat", "responses", "embeddings", "model"])
def test_an_unknown_model_is_the_sdks_not_found_error(node_results: dict[str, Any], endpoint: str) -> None:
    raised = node_results["unknown"][endpoint]
    assert raised["raised"] == "NotFoundError"
    assert (raised["status"], raised["code"]) == (404, "model_not_found")
