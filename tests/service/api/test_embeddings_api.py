"""`POST /v1/embeddings` with the official Python SDK against gunicorn + the stub: allow-listed, limited,
metered and budgeted like every relayed endpoint, and answered from the cache when repeated."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import httpx2
import openai
import pytest

from service.api import cached_embeddings
from service.errors import UpstreamError
from service.settings import hash_client_key
from service.stub.testing import StubServer
from tests.conftest import service_env
from tests.support.redis import RedisServer
from tests.support.service import ServiceProcess, run_service

PATH = "/v1/embeddings"
MODEL = "text-embedding-3-small"
KEY = f"key-embeddings-{uuid.uuid4().hex}"


@pytest.fixture(scope="module")
def keyed_service(
    redis_server: RedisServer, stub_server: StubServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServiceProcess]:
    env = service_env(
        stub_server,
        REDIS_URL=redis_server.url,
        CLIENT_API_KEYS=json.dumps({hash_client_key(KEY): "embeddings-client"}),
        ADMIN_CLIENT_IDS="embeddings-client",
        EMBEDDINGS_MAX_INPUTS="3",
        ANSWERS_ENABLED="false",  # its index embeds in the background: only these tests call the stub here
    )
    with run_service(tmp_path_factory.mktemp("embeddings"), env) as process:
        yield process


def _usage(svc: ServiceProcess) -> dict[str, Any]:
    auth = {"Authorization": f"Bearer {KEY}"}  # an admin here: it names the client it asks about
    day: dict[str, Any] = httpx2.get(svc.url + "/v1/usage?client_id=embeddings-client", headers=auth).json()["day"]
    return day


def test_embeddings_are_relayed_and_their_tokens_counted(keyed_service: ServiceProcess, stub: StubServer) -> None:
    before = _usage(keyed_service)
    inputs = [f"first {uuid.uuid4().hex}", f"second {uuid.uuid4().hex}"]
    result = keyed_service.client(api_key=KEY).embeddings.create(model=MODEL, input=inputs)
    assert [item.index for item in result.data] == [0, 1]
    assert len(result.data[0].embedding) > 0
    after = _usage(keyed_service)
    assert after["requests"] - before["requests"] == 1
    assert after["prompt_tokens"] - before["prompt_tokens"] == result.usage.prompt_tokens
    assert after["completion_tokens"] == before["completion_tokens"]
    assert after["spend_usd"] > before["spend_usd"]
    assert stub.last_request(PATH)["body"]["input"] == inputs


def test_the_same_inputs_again_come_from_the_cache(keyed_service: ServiceProcess, stub: StubServer) -> None:
    client = keyed_service.client(api_key=KEY)
    text = f"cache me {uuid.uuid4().hex}"
    first = client.embeddings.with_raw_response.create(model=MODEL, input=text)
    second = client.embeddings.with_raw_response.create(model=MODEL, input=text)
    assert (first.headers["x-cache"], second.headers["x-cache"]) == ("MISS", "HIT")
    assert second.parse().data[0].embedding == first.parse().data[0].embedding
    assert stub.requests_to(PATH) == 1


def test_only_the_inputs_not_seen_before_go_upstream_and_the_order_is_kept(
    keyed_service: ServiceProcess, stub: StubServer
) -> None:
    client = keyed_service.client(api_key=KEY)
    a, b, c = (f"{name} {uuid.uuid4().hex}" for name in "abc")
    first = client.embeddings.create(model=MODEL, input=[a, b])
    second = client.embeddings.with_raw_response.create(model=MODEL, input=[c, a])
    assert stub.last_request(PATH)["body"]["input"] == [c]  # a was embedded before
    assert second.headers["x-cache"] == "MISS"
    answer = second.parse()
    assert [item.index for item in answer.data] == [0, 1]
    assert answer.data[1].embedding == first.data[0].embedding  # a's vector, from the cache, in a's place
    alone = client.embeddings.create(model=MODEL, input=c)
    assert answer.data[0].embedding == alone.data[0].embedding
    assert stub.requests_to(PATH) == 2  # [a, b], then [c]; the last request was all cached


def test_a_request_answered_wholly_from_the_cache_is_saved_spend(
    keyed_service: ServiceProcess, stub: StubServer
) -> None:
    client = keyed_service.client(api_key=KEY)
    texts = [f"saved {uuid.uuid4().hex}", f"saved {uuid.uuid4().hex}"]
    billed = client.embeddings.create(model=MODEL, input=texts).usage.prompt_tokens
    before = _usage(keyed_service)
    again = client.embeddings.with_raw_response.create(model=MODEL, input=list(reversed(texts)))
    assert again.headers["x-cache"] == "HIT"
    after = _usage(keyed_service)
    assert after["cache_hits"] - before["cache_hits"] == 1
    assert after["spend_usd"] == before["spend_usd"]
    assert after["saved_tokens"] - before["saved_tokens"] == pytest.approx(billed, abs=1)


def test_the_admins_cache_invalidation_retires_cached_embeddings(
    keyed_service: ServiceProcess, stub: StubServer
) -> None:
    client = keyed_service.client(api_key=KEY)
    text = f"retired {uuid.uuid4().hex}"
    client.embeddings.create(model=MODEL, input=text)
    bumped = httpx2.post(keyed_service.url + "/v1/admin/cache/invalidate", headers={"Authorization": f"Bearer {KEY}"})
    assert bumped.status_code == 200
    again = client.embeddings.with_raw_response.create(model=MODEL, input=text)
    assert again.headers["x-cache"] == "MISS"
    assert stub.requests_to(PATH) == 2


@pytest.mark.parametrize(
    "answer",
    [
        b"not json",
        b'{"object": "list", "data": [{"index": 0}]}',  # no embedding
        b'{"object": "list", "data": [{"index": 1, "embedding": [0.1]}]}',  # not the index asked
        b'{"object": "list", "data": 7}',
    ],
)
def test_an_embeddings_answer_openai_should_not_send_is_a_clear_502(answer: bytes) -> None:
    with pytest.raises(UpstreamError, match="unexpected embeddings answer"):
        cached_embeddings._parse(answer, expected=1)


def test_token_inputs_go_upstream_as_sent(keyed_service: ServiceProcess, stub: StubServer) -> None:
    client = keyed_service.client(api_key=KEY)
    client.embeddings.create(model=MODEL, input=[[1, 2, 3]])
    client.embeddings.create(model=MODEL, input=[[1, 2, 3]])
    assert stub.requests_to(PATH) == 2


def test_each_encoding_has_its_own_entries(keyed_service: ServiceProcess, stub: StubServer) -> None:
    client = keyed_service.client(api_key=KEY)
    text = f"encoded {uuid.uuid4().hex}"
    as_floats = client.embeddings.create(model=MODEL, input=text, encoding_format="float")
    as_base64 = client.embeddings.create(model=MODEL, input=text)  # the SDK asks for base64 and decodes it
    assert stub.requests_to(PATH) == 2
    assert as_base64.data[0].embedding == pytest.approx(as_floats.data[0].embedding, rel=1e-6)
    again = client.embeddings.with_raw_response.create(model=MODEL, input=text)
    assert again.headers["x-cache"] == "HIT"
    assert again.parse().data[0].embedding == as_base64.data[0].embedding


@pytest.mark.parametrize("model", ["text-embedding-unknown", "gpt-4o-mini"])  # unknown, and not an embedding model
def test_a_model_not_served_for_embeddings_is_not_found(
    keyed_service: ServiceProcess, stub: StubServer, model: str
) -> None:
    with pytest.raises(openai.NotFoundError) as missing:
        keyed_service.client(api_key=KEY).embeddings.create(model=model, input="hi")
    assert missing.value.code == "model_not_found"
    assert stub.requests_to(PATH) == 0


def test_too_many_inputs_are_refused_naming_the_field_and_the_limit(
    keyed_service: ServiceProcess, stub: StubServer
) -> None:
    with pytest.raises(openai.BadRequestError) as refused:
        keyed_service.client(api_key=KEY).embeddings.create(model=MODEL, input=["a", "b", "c", "d"])
    assert refused.value.param == "input"
    assert "3" in refused.value.message
    assert stub.requests_to(PATH) == 0
