"""What one answer used and what it cost, in one shape whatever the endpoint.

Chat completions, Responses and embeddings name their token counts differently; `usage_of` reads each
into chat completions' names (`prompt_tokens`, `completion_tokens` and their details), so metering, the
log line, the metrics, budgets and `/v1/usage` have one shape to deal with, and `cost_of` is the one
place a usage becomes money.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from service.budget import ModelPrice

Usage = dict[str, Any]  # chat completions' shape


def _dict(value: Any) -> dict[str, Any] | None:
    return value if isinstance(value, dict) else None


def _chat(data: Any) -> Usage | None:
    return _dict(data.get("usage")) if isinstance(data, dict) else None


def _responses(data: Any) -> Usage | None:
    """From a response object, or from a stream event that wraps one (`response.completed` and its kin)."""
    if not isinstance(data, dict):
        return None
    usage = _dict((_dict(data.get("response")) or data).get("usage"))
    if usage is None:
        return None
    return {
        "prompt_tokens": usage.get("input_tokens"),
        "prompt_tokens_details": {
            "cached_tokens": (_dict(usage.get("input_tokens_details")) or {}).get("cached_tokens")
        },
        "completion_tokens": usage.get("output_tokens"),
        "completion_tokens_details": {
            "reasoning_tokens": (_dict(usage.get("output_tokens_details")) or {}).get("reasoning_tokens")
        },
        "total_tokens": usage.get("total_tokens"),
    }


def _embeddings(data: Any) -> Usage | None:
    usage = _chat(data)
    return None if usage is None else {**usage, "completion_tokens": 0}


_READERS: Mapping[str, Callable[[Any], Usage | None]] = {
    "/chat/completions": _chat,
    "/responses": _responses,
    "/embeddings": _embeddings,
}


def usage_of(endpoint: str, data: Any) -> Usage | None:
    """The usage in an endpoint's JSON answer (or in a stream event's data), in chat's names; None if absent."""
    return _READERS[endpoint](data)


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _detail(usage: Mapping[str, Any], group: str, name: str) -> int:
    details = usage.get(group)
    return _int(details.get(name)) if isinstance(details, Mapping) else 0


def cost_of(price: ModelPrice, usage: Mapping[str, Any]) -> int:
    """Nano-dollars: input at its price (cached input at the cached price), output (reasoning included) at its own."""
    return price.cost_nanos(
        _int(usage.get("prompt_tokens")),
        _detail(usage, "prompt_tokens_details", "cached_tokens"),
        _int(usage.get("completion_tokens")),
    )


def usage_fields(price: ModelPrice, usage: Mapping[str, Any]) -> dict[str, Any]:
    """A request's usage as its log line and its metrics carry it: tokens by kind, and the cost in USD."""
    fields: dict[str, Any] = {
        "prompt_tokens": usage.get("prompt_tokens"),
        "completion_tokens": usage.get("completion_tokens"),
        "cost_usd": cost_of(price, usage) / 1e9,
    }
    for group, name, field in (
        ("prompt_tokens_details", "cached_tokens", "cached_tokens"),
        ("completion_tokens_details", "reasoning_tokens", "reasoning_tokens"),
    ):
        details = usage.get(group)
        if isinstance(details, Mapping) and details.get(name) is not None:
            fields[field] = details[name]
    return fields
