"""`POST /v1/answers` through the real service (gunicorn, against the stub)."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx2
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from service.answers.prompt import NOT_FOUND
from service.stub.testing import StubServer
from tests.conftest import ServiceFactory
from tests.service.answers.conftest import DOCUMENTS, write_corpus
from tests.support.service import ServiceProcess

ANSWERS = "/v1/answers"
CHAT = "/v1/chat/completions"
EMBEDDINGS = "/v1/embeddings"


def ask(svc: ServiceProcess, headers: dict[str, str] | None = None, **body: Any) -> httpx2.Response:
    return httpx2.post(
        svc.url + ANSWERS,
        json=body,
        headers={"Authorization": f"Bearer {svc.api_key}", **(headers or {})},
        timeout=30,
    )


def test_an_answer_cites_the_chunk_it_came_from(service: ServiceProcess, stub: StubServer) -> None:
    response = ask(service, question="How long does the free trial of Quillstack last?", top_k=3)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["object"] == "answer"
    assert "14 days" in body["answer"]
    assert body["found"] is True
    assert body["citations"][0]["id"] == "free-trial#1"
    assert body["citations"][0]["title"] == "Free trial"
    assert len(body["context"]) == 3
    assert body["usage"]["prompt_tokens"] > 0
    assert body["cost_usd"] > 0
    assert response.headers["x-cache"] in {"MISS", "HIT"}  # the session's service may have seen it


def test_the_same_question_again_is_a_cache_hit_that_costs_nothing(service: ServiceProcess, stub: StubServer) -> None:
    question = {"question": "Which identity providers work with single sign-on?"}
    ask(service, **question)
    chat_calls = stub.requests_to(CHAT)
    # Two workers, each with its own in-process cache: ask enough times to reach both.
    repeats = [ask(service, **question) for _ in range(6)]
    hits = [r for r in repeats if r.headers["x-cache"] == "HIT"]
    assert hits
    assert all(r.json()["cached"] and r.json()["cost_usd"] == 0 for r in hits)
    assert stub.requests_to(CHAT) - chat_calls <= 1


def test_a_question_outside_the_knowledge_base_says_so(service: ServiceProcess) -> None:
    body = ask(service, question="Who painted the Mona Lisa?").json()
    assert body["answer"] == NOT_FOUND
    assert body["found"] is False
    assert body["citations"] == []
    assert body["context"]  # what was searched is still shown


def test_a_streamed_answer_sends_context_chunks_then_the_answer(service: ServiceProcess) -> None:
    question = "How many recovery codes do I get with two-factor authentication?"
    with httpx2.stream(
        "POST",
        service.url + ANSWERS,
        json={"question": question, "stream": True},
        headers={"Authorization": f"Bearer {service.api_key}"},
        timeout=30,
    ) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        lines = [line.removeprefix("data: ") for line in response.iter_lines() if line.startswith("data: ")]
    assert lines[-1] == "[DONE]"
    events = [json.loads(line) for line in lines[:-1]]
    assert events[0]["object"] == "answer.context"
    chunks = [e for e in events[1:-1] if e["object"] == "chat.completion.chunk"]
    streamed = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])
    final = events[-1]
    assert final["object"] == "answer"
    assert final["answer"] == streamed
    assert "10 single-use recovery codes" in final["answer"]
    assert final["usage"]["completion_tokens"] > 0


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"question": ""}, "question"),
        ({"question": "   "}, "question"),
        ({"question": "x" * 1001}, "question"),
        ({"question": "hi", "top_k": 0}, "top_k"),
        ({"question": "hi", "top_k": 11}, "top_k"),
        ({"question": "hi", "temperature": 1}, "temperature"),
    ],
)
def test_bad_requests_name_the_field(service: ServiceProcess, body: dict[str, Any], param: str) -> None:
    response = ask(service, **body)
    assert response.status_code == 400
    assert response.json()["error"]["param"] == param


def test_an_unknown_model_is_404_model_not_found(service: ServiceProcess) -> None:
    response = ask(service, question="hi", model="gpt-unknown")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "model_not_found"
    assert response.json()["error"]["param"] == "model"


def test_answers_need_a_client_key(service: ServiceProcess) -> None:
    response = httpx2.post(service.url + ANSWERS, json={"question": "hi"}, timeout=10)
    assert response.status_code == 401


def test_concurrent_questions_share_one_embeddings_call_and_a_changed_corpus_is_reindexed(
    make_service: ServiceFactory, stub: StubServer, tmp_path: Path, redis_url: str
) -> None:
    knowledge = write_corpus(tmp_path / "kb")
    env = {
        "REDIS_URL": redis_url,  # the answer cache outlives the restart, as it does in a deployment
        "ANSWERS_KNOWLEDGE_DIR": str(knowledge),
        "ANSWERS_INDEX_DIR": str(tmp_path / "index"),
        # The batch closes when it is full (8 questions) or after 3 s: the 8 concurrent questions fill it
        # however slowly a loaded machine delivers them, and a lone question waits at most 3 s.
        "ANSWERS_EMBED_BATCH_SIZE": "8",
        "ANSWERS_EMBED_BATCH_WAIT_MS": "3000",
    }
    with make_service(workers=1, **env) as svc:
        assert ask(svc, question="When does the library close?").json()["answer"].endswith("6pm on weekdays.")
        version = ask(svc, question="When does the library close?").json()["index_version"]
        before = stub.requests_to(EMBEDDINGS)
        questions = [f"Ferry question {i}: how much is a ticket?" for i in range(8)]
        with ThreadPoolExecutor(len(questions)) as pool:
            answers = list(pool.map(lambda q: ask(svc, question=q).json(), questions))
        assert all(a["citations"][0]["id"] == "ferries#1" for a in answers)
        assert stub.requests_to(EMBEDDINGS) - before == 1
    (knowledge / "library.md").write_text(DOCUMENTS["library"].replace("6pm", "8pm"))
    with make_service(workers=1, **env) as svc:
        body = ask(svc, question="When does the library close?").json()
        assert body["index_version"] != version
        assert body["answer"].endswith("8pm on weekdays.")  # not the cached answer from the old index
        assert ask(svc, question="When does the library close?").headers["x-cache"] == "HIT"


_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3),
    max_leaves=6,
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    body=st.dictionaries(st.sampled_from(["question", "top_k", "model", "stream", "extra"]), _json_values, max_size=4)
    | _json_values
)
def test_no_client_input_yields_a_server_error(service: ServiceProcess, body: Any) -> None:
    response = httpx2.post(
        f"{service.base_url}/answers",
        content=json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {service.api_key}", "Content-Type": "application/json"},
        timeout=30,
    )
    # The one 5xx allowed: 503 while the knowledge base is still being indexed (a retryable state).
    assert response.status_code < 500 or response.json()["error"]["code"] == "index_not_ready", response.text
    if response.status_code >= 400:
        assert set(response.json()["error"]) == {"message", "type", "param", "code"}


def _deep_or_wide(depth: int, width: int, as_list: bool) -> bytes:
    """JSON text `depth` levels deep around a `width`-wide list or object (built as text: no recursion)."""
    inner = (
        b"[" + b",".join([b'"w"'] * width) + b"]"
        if as_list
        else (b"{" + b",".join(b'"k%d":1' % i for i in range(width)) + b"}")
    )
    return b"[" * depth + inner + b"]" * depth


@pytest.mark.parametrize(
    "position",
    [b"@", *(b'{"question":"hi","%s":@}' % f.encode() for f in ("question", "top_k", "model", "stream", "user", "x"))],
    ids=lambda position: position.decode(),
)
@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    depth=st.sampled_from([0, 1, 64, 65, 128, 255, 1000, 1100]) | st.integers(min_value=0, max_value=1100),
    width=st.integers(min_value=0, max_value=2000),
    as_list=st.booleans(),
)
@example(depth=1000, width=1, as_list=True)
@example(depth=1, width=2000, as_list=False)
def test_no_deep_or_wide_structure_in_any_field_yields_a_server_error(
    service: ServiceProcess, position: bytes, depth: int, width: int, as_list: bool
) -> None:
    response = httpx2.post(
        f"{service.base_url}/answers",
        content=position.replace(b"@", _deep_or_wide(depth, width, as_list)),
        headers={"Authorization": f"Bearer {service.api_key}", "Content-Type": "application/json"},
        timeout=30,
    )
    assert response.status_code < 500 or response.json()["error"]["code"] == "index_not_ready", response.text
    if response.status_code >= 400:
        assert set(response.json()["error"]) == {"message", "type", "param", "code"}
