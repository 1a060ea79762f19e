"""Embedding calls are on the books: question batches charged to their clients, indexing to the service."""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx2

from service.contract import READY_PATH
from service.settings import SERVICE_CLIENT_ID, hash_client_key
from service.stub.testing import StubServer
from tests.conftest import ServiceFactory
from tests.service.answers.conftest import write_corpus
from tests.support.service import ServiceProcess

EMBEDDINGS = "/v1/embeddings"
KEYS = {"svc-alpha-key-0123456789": "alpha", "svc-beta-key-0123456789": "beta"}
ALPHA, BETA = list(KEYS)


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    return {
        "ANSWERS_KNOWLEDGE_DIR": str(write_corpus(tmp_path / "kb")),
        "ANSWERS_INDEX_DIR": str(tmp_path / "index"),  # empty: the service embeds the corpus itself
        "ANSWERS_MIN_SIMILARITY": "1.0",  # nothing is similar enough: no chat call, only embeddings
        "ANSWERS_EMBED_BATCH_WAIT_MS": "100",
        "CLIENT_API_KEYS": json.dumps({hash_client_key(key): client for key, client in KEYS.items()}),
        "ADMIN_CLIENT_IDS": "alpha",
        **extra,
    }


def _wait_for_the_index(svc: ServiceProcess) -> None:
    deadline = time.monotonic() + 20
    while not httpx2.get(svc.url + READY_PATH).json()["checks"]["answers_index"].startswith("ok"):
        assert time.monotonic() < deadline, "the index was not built"
        time.sleep(0.1)


def _ask(svc: ServiceProcess, key: str, question: str) -> httpx2.Response:
    return httpx2.post(
        svc.url + "/v1/answers", json={"question": question}, headers={"Authorization": f"Bearer {key}"}, timeout=30
    )


def _usage(svc: ServiceProcess) -> dict[str, dict[str, Any]]:
    response = httpx2.get(svc.url + "/v1/usage", headers={"Authorization": f"Bearer {ALPHA}"}, timeout=10)
    return {report["client_id"]: report["day"] for report in response.json()["data"]}


def test_question_batches_are_shared_out_and_indexing_is_the_services(
    make_service: ServiceFactory, stub: StubServer, tmp_path: Path
) -> None:
    with make_service(workers=1, **_env(tmp_path)) as svc:
        _wait_for_the_index(svc)
        indexing = stub.tokens_billed(EMBEDDINGS)["prompt_tokens"]
        questions = [(ALPHA, "When does the library open?"), (ALPHA, "Where do visitors park their cars?")]
        questions += [(BETA, "How much does a ferry ticket cost for one adult going to the island?")]
        with ThreadPoolExecutor(len(questions)) as pool:
            answers = list(pool.map(lambda q: _ask(svc, *q), questions))
        assert [a.status_code for a in answers] == [200] * len(questions)
        asked = stub.tokens_billed(EMBEDDINGS)["prompt_tokens"] - indexing
        usage = _usage(svc)

    assert indexing > 0
    assert asked > 0
    assert usage[SERVICE_CLIENT_ID]["prompt_tokens"] == indexing
    assert usage[SERVICE_CLIENT_ID]["spend_usd"] > 0
    assert usage["alpha"]["prompt_tokens"] + usage["beta"]["prompt_tokens"] == asked
    assert usage["beta"]["prompt_tokens"] > usage["alpha"]["prompt_tokens"] / 2  # the longer question, the larger share
    assert usage["alpha"]["spend_usd"] > 0
    assert usage["beta"]["spend_usd"] > 0


def test_a_client_over_its_budget_is_refused_before_its_question_is_embedded(
    make_service: ServiceFactory, stub: StubServer, tmp_path: Path
) -> None:
    with make_service(workers=1, **_env(tmp_path, BUDGET_CLIENT_DAILY_HARD_USD="0.0000001")) as svc:
        _wait_for_the_index(svc)  # the service's own indexing is not a client's budget
        before = stub.requests_to(EMBEDDINGS)
        refused = _ask(svc, ALPHA, "When does the library open on a rainy Sunday afternoon in winter?")
        after = stub.requests_to(EMBEDDINGS)
    assert refused.status_code == 429, refused.text
    assert refused.json()["error"]["code"] == "insufficient_quota"
    assert after == before


def test_question_embeddings_count_against_the_fleets_token_limit(
    make_service: ServiceFactory, stub: StubServer, tmp_path: Path
) -> None:
    env = _env(tmp_path, UPSTREAM_TOKENS_PER_MINUTE="400", UPSTREAM_WAIT_SECONDS="0")
    with make_service(workers=1, **env) as svc:
        _wait_for_the_index(svc)
        assert stub.tokens_billed(EMBEDDINGS)["prompt_tokens"] < 400  # the index fitted
        refused = _ask(svc, ALPHA, " ".join(f"w{i}" for i in range(200)))  # about 400 tokens, 790 characters
    assert refused.status_code == 503, refused.text
    assert refused.json()["error"]["code"] == "upstream_capacity"
    assert "retry-after" in refused.headers
