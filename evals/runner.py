"""Run a dataset against a target with one or more models, and score it."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, TextIO

from evals import metrics
from evals.datasets import ANSWERABLE, NOT_IN_KB, Example
from evals.targets import AnswersClient, Observation
from service.catalog import spec_for

Embedder = Callable[[list[str]], Awaitable[list[list[float]]]]
SEARCH_KS = (1, 3, 5)
# One word is the whole verdict; a little room for a tokenizer that splits "INCORRECT".
JUDGE_MAX_COMPLETION_TOKENS = 5
# A reasoning judge thinks first, and its reasoning counts against max_completion_tokens.
JUDGE_REASONING_MAX_COMPLETION_TOKENS = 2048

JUDGE_PROMPT = (
    "You grade answers to questions about a product's documentation. Compare the submitted answer with "
    "the reference answer. The submission is CORRECT if it states the same facts as the reference (wording "
    "may differ, extra correct detail is fine) or, when the reference says the documentation does not cover "
    "the question, if the submission also says so. Otherwise it is INCORRECT. Reply with one word: CORRECT "
    "or INCORRECT.\n\nQuestion: {question}\nReference answer: {reference}\nSubmitted answer: {answer}"
)


class Progress:
    """A progress bar on stderr; on a non-terminal (CI logs), a line every 10%."""

    def __init__(self, total: int, label: str, stream: TextIO = sys.stderr) -> None:
        self.total, self.label, self.done, self.stream = total, label, 0, stream
        self._tty = stream.isatty()
        self._last_decile = -1

    def advance(self) -> None:
        self.done += 1
        fraction = self.done / self.total if self.total else 1.0
        if self._tty:
            bar = "#" * int(fraction * 30)
            self.stream.write(f"\r{self.label} [{bar:<30}] {self.done}/{self.total}")
            if self.done == self.total:
                self.stream.write("\n")
        elif int(fraction * 10) > self._last_decile:
            self._last_decile = int(fraction * 10)
            self.stream.write(f"{self.label}: {self.done}/{self.total}\n")
        self.stream.flush()


def stub_embedder() -> Embedder:
    """The stub's hashed bag-of-words embeddings, computed here: offline and deterministic."""
    from service.stub.vectors import embed  # noqa: PLC0415

    async def embed_many(texts: list[str]) -> list[list[float]]:
        return [embed(text) for text in texts]

    return embed_many


def openai_embedder(model: str = "text-embedding-3-small") -> Embedder:
    from openai import AsyncOpenAI  # noqa: PLC0415

    client = AsyncOpenAI()

    async def embed_many(texts: list[str]) -> list[list[float]]:
        response = await client.embeddings.create(model=model, input=texts)
        return [list(item.embedding) for item in sorted(response.data, key=lambda item: item.index)]

    return embed_many


async def judge(observations: Sequence[Observation], model: str) -> list[bool | None]:
    """The model-graded check: one chat call per answer, straight to OpenAI (OPENAI_API_KEY, OPENAI_BASE_URL)."""
    from openai import AsyncOpenAI  # noqa: PLC0415

    client = AsyncOpenAI()
    limit = asyncio.Semaphore(4)

    async def grade(o: Observation) -> bool | None:
        if o.error or o.example.answer is None:
            return None
        prompt = JUDGE_PROMPT.format(question=o.example.question, reference=o.example.answer, answer=o.answer)
        async with limit:
            response = await client.chat.completions.create(**judge_request(model, prompt))
        return parse_verdict(response.choices[0].message.content or "")

    return list(await asyncio.gather(*(grade(o) for o in observations)))


def judge_request(model: str, prompt: str) -> dict[str, Any]:
    """The judge's chat request: deterministic for a plain model; a reasoning model takes no temperature, and
    thinks at its least effort with room for that thinking before its one-word verdict."""
    request: dict[str, Any] = {"model": model, "messages": [{"role": "user", "content": prompt}]}
    spec = spec_for(model)
    if spec is not None and spec.reasoning:
        request |= {
            "reasoning_effort": spec.reasoning_efforts[0],
            "max_completion_tokens": JUDGE_REASONING_MAX_COMPLETION_TOKENS,
        }
    else:
        request |= {"temperature": 0, "max_completion_tokens": JUDGE_MAX_COMPLETION_TOKENS}
    return request


def parse_verdict(text: str) -> bool | None:
    word = text.strip().split()[0].strip(".:!").upper() if text.strip() else ""
    return {"CORRECT": True, "INCORRECT": False}.get(word)


@dataclass
class ModelResult:
    model: str
    observations: list[Observation]
    similarities: list[float | None]
    verdicts: list[bool | None] | None = None

    def summary(self, top_k: int) -> dict[str, Any]:
        ok = [o for o in self.observations if o.error is None]
        searchable = [o for o in ok if o.example.documents]
        scored: dict[str, float] = {}
        for k in (*[k for k in SEARCH_KS if k < top_k], top_k):
            if searchable:
                scored[f"search.accuracy@{k}"] = metrics.mean(
                    [metrics.accuracy_at_k(o.ranked_documents, o.example.documents, k) for o in searchable]
                )
        if searchable:
            scored["search.mrr"] = metrics.mean_reciprocal_rank(
                [(o.ranked_documents, o.example.documents) for o in searchable]
            )
        similarities = [s for s in self.similarities if s is not None]
        if similarities:
            scored["answer.similarity"] = metrics.mean(similarities)
        if self.verdicts is not None:
            graded = [v for v in self.verdicts if v is not None]
            if graded:
                scored["answer.judge_accuracy"] = sum(graded) / len(graded)
        if ok:
            c = metrics.classification(
                [o.example.expected_label for o in ok], [ANSWERABLE if o.found else NOT_IN_KB for o in ok], NOT_IN_KB
            )
            scored |= {
                "not_found.accuracy": c.accuracy,
                "not_found.precision": c.precision,
                "not_found.recall": c.recall,
                "not_found.f1": c.f1,
            }
        latencies = [o.latency_ms for o in ok]
        ttfts = [o.ttft_ms for o in ok if o.ttft_ms is not None]
        prompt = sum(o.prompt_tokens for o in ok)
        completion = sum(o.completion_tokens for o in ok)
        cost = sum(o.cost_usd for o in ok)
        return {
            "model": self.model,
            "examples": len(self.observations),
            "errors": len(self.observations) - len(ok),
            "metrics": {name: round(value, 4) for name, value in scored.items()},
            "latency_ms": {f"p{p}": round(metrics.percentile(latencies, p), 1) for p in (50, 90, 99)},
            # streamed runs only (--stream): time to the first token, which is what a chat user waits for
            "ttft_ms": {f"p{p}": round(metrics.percentile(ttfts, p), 1) for p in (50, 90, 99)} if ttfts else None,
            "tokens": {"prompt": prompt, "completion": completion, "total": prompt + completion},
            "cost_usd": {"total": round(cost, 6), "per_question": round(cost / len(ok), 8) if ok else 0.0},
            "cache_hits": sum(o.cached for o in ok),
        }

    def rows(self) -> list[dict[str, Any]]:
        rows = []
        for i, o in enumerate(self.observations):
            rows.append(
                {
                    "id": o.example.id,
                    "question": o.example.question,
                    "expected_documents": list(o.example.documents),
                    "ranked_documents": o.ranked_documents,
                    "answer": o.answer,
                    "found": o.found,
                    "similarity": None if self.similarities[i] is None else round(self.similarities[i] or 0.0, 4),
                    "judge": None if self.verdicts is None else self.verdicts[i],
                    "latency_ms": round(o.latency_ms, 1),
                    "ttft_ms": None if o.ttft_ms is None else round(o.ttft_ms, 1),
                    "error": o.error,
                }
            )
        return rows


async def similarities(observations: Sequence[Observation], embedder: Embedder) -> list[float | None]:
    pairs = [(i, o) for i, o in enumerate(observations) if o.error is None and o.example.answer]
    result: list[float | None] = [None] * len(observations)
    if not pairs:
        return result
    texts = [text for _, o in pairs for text in (o.answer or " ", o.example.answer or " ")]
    vectors: list[list[float]] = []
    for start in range(0, len(texts), 256):
        vectors.extend(await embedder(texts[start : start + 256]))
    for n, (i, _) in enumerate(pairs):
        result[i] = metrics.cosine_similarity(vectors[2 * n], vectors[2 * n + 1])
    return result


async def run_model(
    client: AnswersClient,
    examples: Sequence[Example],
    model: str,
    *,
    top_k: int,
    concurrency: int,
    embedder: Embedder,
    judge_model: str | None,
) -> ModelResult:
    limit = asyncio.Semaphore(concurrency)
    progress = Progress(len(examples), model)

    async def one(example: Example) -> Observation:
        async with limit:
            observation = await client.ask(example, model, top_k)
        progress.advance()
        return observation

    observations = list(await asyncio.gather(*(one(e) for e in examples)))
    result = ModelResult(model, observations, await similarities(observations, embedder))
    if judge_model:
        if not os.environ.get("OPENAI_API_KEY"):
            raise SystemExit("--judge needs OPENAI_API_KEY (the judge is a real model)")
        result.verdicts = await judge(observations, judge_model)
    return result
