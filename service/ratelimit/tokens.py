"""Token estimates for rate limits and budget reservations, counted with tiktoken, offline.

tiktoken downloads its BPE files on first use, which a container without internet (and a test run)
cannot do. The o200k_base ranks ship in this package instead (`o200k_base.tiktoken.gz`, 1.7 MB), and
are checked against the SHA-256 that tiktoken itself pins for the published file. o200k_base is the
encoding of gpt-4o, gpt-4.1 and the o-series; for older cl100k models it is an estimate, which is all a
rate limiter needs, since every estimate is reconciled with the usage OpenAI reports.
"""

from __future__ import annotations

import base64
import functools
import gzip
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import tiktoken

O200K_FILE = Path(__file__).with_name("o200k_base.tiktoken.gz")
# The same value as tiktoken_ext.openai_public.o200k_base's expected_hash (tests check they agree).
O200K_SHA256 = "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d"
O200K_PATTERN = "|".join(
    [
        r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
        r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
        r"""\p{N}{1,3}""",
        r""" ?[^\s\p{L}\p{N}]+[\r\n/]*""",
        r"""\s*[\r\n]+""",
        r"""\s+(?!\S)""",
        r"""\s+""",
    ]
)
O200K_SPECIAL_TOKENS = {"<|endoftext|>": 199999, "<|endofprompt|>": 200018}

# OpenAI's chat format overhead (openai-cookbook, "How to count tokens with tiktoken").
_TOKENS_PER_MESSAGE = 3
_TOKENS_PER_NAME = 1
_REPLY_PRIMING_TOKENS = 3
# An image part is billed by size and detail; without decoding it, assume a large high-detail image.
_IMAGE_PART_TOKENS = 1105


@functools.cache
def o200k_base() -> tiktoken.Encoding:
    """The o200k_base encoding from the bundled file (loaded once per process, ~0.3 s)."""
    data = gzip.decompress(O200K_FILE.read_bytes())
    digest = hashlib.sha256(data).hexdigest()
    if digest != O200K_SHA256:
        raise RuntimeError(f"{O200K_FILE.name} is corrupt (sha256 {digest}); restore it from git")
    ranks = {base64.b64decode(token): int(rank) for token, rank in (line.split() for line in data.splitlines() if line)}
    return tiktoken.Encoding(
        name="o200k_base", pat_str=O200K_PATTERN, mergeable_ranks=ranks, special_tokens=O200K_SPECIAL_TOKENS
    )


def count_text_tokens(text: str) -> int:
    return len(o200k_base().encode_ordinary(text))


def _json_tokens(value: Any) -> int:
    # orjson, not json: it cannot raise RecursionError (bodies are depth-limited well below its own limit).
    return count_text_tokens(orjson.dumps(value).decode())


def _content_tokens(content: Any) -> int:
    if content is None:
        return 0
    if isinstance(content, str):
        return count_text_tokens(content)
    if isinstance(content, list):
        total = 0
        for part in content:
            if isinstance(part, Mapping) and part.get("type") == "text":
                total += count_text_tokens(str(part.get("text", "")))
            elif isinstance(part, Mapping) and part.get("type") in {"image_url", "input_image"}:
                total += _IMAGE_PART_TOKENS
            else:
                total += _json_tokens(part)
        return total
    return _json_tokens(content)


def count_prompt_tokens(body: Mapping[str, Any]) -> int:
    """Prompt tokens of a chat-completions request: messages, names, tool calls and tool definitions."""
    total = _REPLY_PRIMING_TOKENS
    for message in body.get("messages") or []:
        if not isinstance(message, Mapping):
            continue
        total += _TOKENS_PER_MESSAGE + _content_tokens(message.get("content"))
        if message.get("name"):
            total += _TOKENS_PER_NAME + count_text_tokens(str(message["name"]))
        if message.get("tool_calls"):
            total += _json_tokens(message["tool_calls"])
    for extra in ("tools", "functions", "response_format"):
        if body.get(extra):
            total += _json_tokens(body[extra])
    return total


@dataclass(frozen=True)
class TokenEstimate:
    """What a request may cost in tokens before it runs: the worst case, reconciled afterwards."""

    prompt_tokens: int
    max_completion_tokens: int

    @property
    def total(self) -> int:
        return self.prompt_tokens + self.max_completion_tokens


def estimate_request(body: Mapping[str, Any], *, default_max_tokens: int) -> TokenEstimate:
    """Prompt tokens plus the most the request can generate (max tokens x n), as OpenAI's limiter counts."""
    max_tokens = body.get("max_completion_tokens") or body.get("max_tokens") or default_max_tokens
    choices = body.get("n") or 1
    return TokenEstimate(count_prompt_tokens(body), int(max_tokens) * int(choices))
