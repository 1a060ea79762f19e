"""Which requests the cache may answer, and the key that identifies "the same request".

The key is a SHA-256 of the request in canonical form: everything that changes the output is in it
(model, messages, tools, temperature, top_p, max tokens, stop, seed, response_format, and any
parameter this module does not know, to be safe), and nothing that does not (the `user` and
`metadata` tags, stream options, key order, `0` vs `0.0`, parameters left at their defaults).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from enum import StrEnum
from typing import Any

import orjson

KEY_SCHEMA = "v2"  # bump when the normal form changes: old entries stop matching
CHAT_COMPLETIONS = "/chat/completions"
RESPONSES = "/responses"
EMBEDDINGS = "/embeddings"
# Responses that continue OpenAI-side state: the same request can have a different answer each time.
_STATEFUL = ("previous_response_id", "conversation")

# Parameters that do not change the answer. Streaming does not either: a streamed request and a
# plain one share the entry, and the stream is replayed from it.
_NOT_IN_KEY = frozenset(
    {"user", "metadata", "store", "stream", "stream_options", "safety_identifier", "prompt_cache_key"}
)
_DEFAULTS: dict[str, Any] = {
    "n": 1,
    "temperature": 1,
    "top_p": 1,
    "presence_penalty": 0,
    "frequency_penalty": 0,
    "logprobs": False,
    "parallel_tool_calls": True,
}

OPT_IN_HEADER = "x-cache-opt-in"


class CacheMode(StrEnum):
    USE = "use"  # answer from the cache, or fill it
    REFRESH = "refresh"  # Cache-Control: no-cache: skip the lookup, store the fresh answer
    BYPASS = "bypass"  # not cacheable, or Cache-Control: no-store


_EXACT_FLOAT_INTEGERS = 2**53  # beyond it a float is not one integer, and as an int it may not fit in JSON's 64 bits


def _canonical(value: Any) -> Any:
    # Recursive, one frame per level: safe because bodies are refused past MAX_JSON_DEPTH (service/api/body.py).
    if isinstance(value, float) and value.is_integer() and abs(value) <= _EXACT_FLOAT_INTEGERS:
        return int(value)
    if isinstance(value, Mapping):
        return {k: _canonical(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_canonical(v) for v in value]
    return value


def normalize(body: Mapping[str, Any]) -> dict[str, Any]:
    normal: dict[str, Any] = {}
    for name, raw in body.items():
        if name in _NOT_IN_KEY or raw is None:
            continue
        value = _canonical(raw)
        if name in _DEFAULTS and value == _DEFAULTS[name]:
            continue
        normal[name] = [value] if name == "stop" and isinstance(value, str) else value
    if "max_tokens" in normal and "max_completion_tokens" not in normal:
        normal["max_completion_tokens"] = normal.pop("max_tokens")  # the same limit, two spellings
    return normal


def request_digest(body: Mapping[str, Any], scope: str, endpoint: str = CHAT_COMPLETIONS) -> str:
    """SHA-256 over the schema, the endpoint, the cache scope (a client id, or "shared") and the normal form."""
    canonical = orjson.dumps([KEY_SCHEMA, endpoint, scope, normalize(body)], option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(canonical).hexdigest()


def _truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in {"1", "true", "yes", "on"}


def cache_mode(headers: Mapping[str, str], body: Mapping[str, Any], endpoint: str = CHAT_COMPLETIONS) -> CacheMode:
    """Reusable answers only: temperature 0, or the caller opts in with `X-Cache-Opt-In: true`.

    Never a streamed Responses call (its event stream is not replayed from the cache), nor one that continues
    OpenAI-side state; embeddings have their own cache, per input.
    """
    directives = {d.strip().lower() for d in headers.get("cache-control", "").split(",")}
    if "no-store" in directives:
        return CacheMode.BYPASS
    if endpoint == EMBEDDINGS:  # cached per input instead (service.cache.embeddings)
        return CacheMode.BYPASS
    if endpoint == RESPONSES and (body.get("stream") is True or any(body.get(name) for name in _STATEFUL)):
        return CacheMode.BYPASS
    deterministic = body.get("temperature") == 0
    if not deterministic and not _truthy(headers.get(OPT_IN_HEADER)):
        return CacheMode.BYPASS
    if "no-cache" in directives:
        return CacheMode.REFRESH
    return CacheMode.USE
