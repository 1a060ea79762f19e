"""The body of a `/v1/answers` response, whatever path produced the model's text: a fresh call, a
streamed one, or the response cache. JSON: one `answer` object. Streamed: `answer.context`, the model's
chunks as they come, then the assembled `answer` and `[DONE]`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import Any

import orjson

from service.answers.index import Index
from service.answers.prompt import cited_hits, is_not_found
from service.answers.retrieval import Hit
from service.budget import PriceTable
from service.streaming import DONE, sse_event
from service.usage import cost_of


class AnswerReply:
    """Builds the response for one question from the model's text, whatever path produced it."""

    def __init__(self, index: Index, hits: list[Hit], prices: PriceTable, search_ms: float) -> None:
        self.index = index
        self.hits = hits
        self.prices = prices
        self.search_ms = search_ms

    def payload(self, text: str, usage: Mapping[str, Any] | None, model: str, *, cached: bool) -> dict[str, Any]:
        counts = dict(usage or {})
        cost_nanos = cost_of(self.prices.price_for(model), counts)
        return {
            "object": "answer",
            "model": model,
            "answer": text,
            "found": not is_not_found(text),
            "citations": [hit.as_json() for hit in cited_hits(text, self.hits)],
            "context": [hit.as_json() for hit in self.hits],
            "index_version": self.index.version,
            "cached": cached,
            "usage": counts,
            # a cached answer was paid for once already: it costs nothing now
            "cost_usd": 0.0 if cached else cost_nanos / 1e9,
            "search_ms": self.search_ms,
        }

    def context_event(self) -> bytes:
        return sse_event(
            {
                "object": "answer.context",
                "index_version": self.index.version,
                "context": [h.as_json() for h in self.hits],
            }
        )

    async def stream(self, events: AsyncIterator[bytes], model: str, *, cached: bool) -> AsyncIterator[bytes]:
        """Context first, the model's chunks as they come, then the assembled answer and [DONE]."""
        yield self.context_event()
        text: list[str] = []
        usage: dict[str, Any] | None = None
        finished = False
        async for item in events:
            forward: list[bytes] = []
            for event in item.split(b"\n\n"):
                data = data_of(event)
                if data is None:  # a heartbeat comment, or [DONE] (ours comes after the answer event)
                    if event.strip() and event.strip() != DONE.strip():
                        forward.append(event)
                    continue
                if "error" in data:
                    yield event + b"\n\n"
                    return
                for choice in data.get("choices") or ():
                    text.append((choice.get("delta") or {}).get("content") or "")
                    finished = finished or bool(choice.get("finish_reason"))
                if isinstance(data.get("usage"), dict):
                    usage = data["usage"]
                forward.append(event)
            if forward:
                yield b"\n\n".join(forward) + b"\n\n"
        if finished:
            yield sse_event(self.payload("".join(text), usage, model, cached=cached))
            yield DONE


def data_of(event: bytes) -> dict[str, Any] | None:
    line = event.strip()
    if not line.startswith(b"data:") or line == DONE.strip():
        return None
    try:
        data = orjson.loads(line.removeprefix(b"data:").strip())
    except orjson.JSONDecodeError:
        return None
    return data if isinstance(data, dict) else None


def content_of(completion: Mapping[str, Any]) -> str:
    choices = completion.get("choices") or [{}]
    return str((choices[0].get("message") or {}).get("content") or "")
