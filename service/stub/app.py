"""The stub's aiohttp application: the /v1 API plus the /_stub control endpoints tests drive.

Control endpoints (JSON in, JSON out):

- `GET  /_stub/health`  200 once the server listens.
- `POST /_stub/faults`  a list of scripted responses (see `state.Fault`), consumed in order by the next
  matching /v1 requests: `{"status": 429, "retry_after_ms": 10, "count": 2}`, `{"status": 500}`,
  `{"hang": true}`, `{"delay_ms": 3000}`, `{"status": 400, "message": "..."}`,
  `{"stall_after_chunks": 2, "stall_ms": 5000}`, `{"drop_after_chunks": 3}`; `"path"` filters;
  `"probability": 0.3` plays a fault on that share of matching requests (seeded: a run repeats).
  Every /v1 path takes them, `/v1/responses` and `/v1/models/{model}` included; the mid-stream faults
  count SSE events (a streamed response's `response.created` is its first). `GET` lists what is still
  pending.
- `POST /_stub/config`  change knobs (`state.Knobs`): ttft_ms, tokens_per_second, latency_ms, api_keys,
  rate_limit_headers (added to every /v1 response), moderation_marker, reply_tokens.
- `GET  /_stub/stats`   requests per /v1 path (faulted ones included), tokens billed per path (Responses'
  input/output tokens as prompt/completion tokens, plus reasoning_tokens), the last 50 in detail.
- `POST /_stub/reset`   clear stats and faults, knobs back to the command-line values.

Every /v1 request is recorded, then served by the next matching fault if any, then checked against the
configured API keys (401 `invalid_api_key`), then answered.
"""

from __future__ import annotations

import asyncio
import math
import os
from typing import Final

import orjson
from aiohttp import web
from aiohttp.typedefs import Handler
from pydantic import TypeAdapter, ValidationError

from service.stub import api
from service.stub.common import BODY, FAULT, STATE
from service.stub.errors import bad_request, error_response
from service.stub.state import Fault, Knobs, KnobsUpdate, StubState

MAX_BODY_BYTES: Final = 64 * 1024 * 1024
# A hanging request is answered after this long if the client has not given up by then.
HANG_SECONDS: Final = 3600.0
DEFAULT_RETRY_AFTER_MS: Final = 1000
_FAULT_LIST: Final = TypeAdapter(list[Fault])


def _bearer(request: web.Request) -> str:
    scheme, _, key = request.headers.get("Authorization", "").partition(" ")
    return key.strip() if scheme.lower() == "bearer" else ""


async def _scripted_response(fault: Fault) -> web.Response | None:
    """Play a fault; None when the request should then be answered normally."""
    if fault.delay_ms:
        await asyncio.sleep(fault.delay_ms / 1000)
    if fault.hang:
        await asyncio.sleep(HANG_SECONDS)
        return error_response(408, "The stub hung on purpose (hang fault).")
    if fault.status is None:
        return None
    headers = dict(fault.headers)
    retry_after_ms = fault.retry_after_ms
    if retry_after_ms is None and fault.status == 429:
        retry_after_ms = DEFAULT_RETRY_AFTER_MS  # OpenAI's 429s always say when to come back
    if retry_after_ms is not None:
        headers["retry-after-ms"] = str(retry_after_ms)
        headers["retry-after"] = str(math.ceil(retry_after_ms / 1000))
    return error_response(
        fault.status, fault.message, type_=fault.type, code=fault.code, param=fault.param, headers=headers
    )


@web.middleware
async def upstream_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    if not request.path.startswith("/v1/"):
        return await handler(request)
    state = request.app[STATE]
    body: object = None
    if request.body_exists:
        try:
            body = orjson.loads(await request.read())
        except orjson.JSONDecodeError:
            body = None
    request[BODY] = body
    state.stats.record(request.method, request.path, request.headers, body)

    streaming = isinstance(body, dict) and body.get("stream") is True
    fault = state.faults.take(request.path, streaming)
    if fault is not None:
        request[FAULT] = fault
        scripted = await _scripted_response(fault)
        if scripted is not None:
            return scripted

    keys = state.knobs.api_keys
    if keys and (key := _bearer(request)) not in keys:
        return error_response(401, f"Incorrect API key provided: ...{key[-4:]}.", code="invalid_api_key", param=None)
    return await handler(request)


async def _upstream_headers(request: web.Request, response: web.StreamResponse) -> None:
    if request.path.startswith("/v1/"):
        response.headers.update(request.app[STATE].knobs.rate_limit_headers)
        response.headers.setdefault("x-request-id", f"req_{os.urandom(16).hex()}")


def _json(payload: object) -> web.Response:
    return web.Response(body=orjson.dumps(payload), content_type="application/json")


async def _json_body(request: web.Request) -> object:
    try:
        return orjson.loads(await request.read())
    except orjson.JSONDecodeError:
        return None


async def health(request: web.Request) -> web.Response:
    return _json({"status": "ok"})


async def add_faults(request: web.Request) -> web.Response:
    body = await _json_body(request)
    try:
        faults = _FAULT_LIST.validate_python([body] if isinstance(body, dict) else body)
    except ValidationError as error:
        return bad_request(f"invalid fault list: {error}")
    state = request.app[STATE]
    state.faults.extend(faults)
    return _json({"pending": state.faults.as_json()})


async def list_faults(request: web.Request) -> web.Response:
    return _json({"pending": request.app[STATE].faults.as_json()})


async def configure(request: web.Request) -> web.Response:
    state = request.app[STATE]
    if request.method == "POST":
        try:
            update = KnobsUpdate.model_validate(await _json_body(request))
        except ValidationError as error:
            return bad_request(f"invalid config: {error}")
        state.knobs = update.apply(state.knobs)
    return _json(state.knobs.as_json())


async def stats(request: web.Request) -> web.Response:
    return _json(request.app[STATE].stats.as_json())


async def reset(request: web.Request) -> web.Response:
    request.app[STATE].reset()
    return _json({"status": "reset"})


def create_app(defaults: Knobs) -> web.Application:
    app = web.Application(middlewares=[upstream_middleware], client_max_size=MAX_BODY_BYTES)
    app[STATE] = StubState(defaults)
    app.on_response_prepare.append(_upstream_headers)
    app.router.add_get("/_stub/health", health)
    app.router.add_post("/_stub/faults", add_faults)
    app.router.add_get("/_stub/faults", list_faults)
    app.router.add_route("GET", "/_stub/config", configure)
    app.router.add_route("POST", "/_stub/config", configure)
    app.router.add_get("/_stub/stats", stats)
    app.router.add_post("/_stub/reset", reset)
    api.add_routes(app)
    return app
