"""The bundled o200k_base encoding is tiktoken's own, and estimates count what OpenAI counts."""

from __future__ import annotations

import gzip
import hashlib
import inspect
from pathlib import Path

import pytest
import tiktoken
from tiktoken_ext import openai_public

from service.ratelimit.tokens import (
    O200K_FILE,
    O200K_SHA256,
    count_prompt_tokens,
    estimate_request,
    o200k_base,
)

SAMPLES = [
    "Hello, world!",
    "def f(x):\n    return [i**2 for i in range(100)]  # 1+2+3==6",
    "café résumé naïve — Zürich, 日本語のトークナイザー, emoji 🚀🔥",
    "don't can't I'll we've   leading\n\ttabs  \r\n <|endoftext|>",
]


def test_bundled_file_has_the_hash_tiktoken_pins_for_o200k_base() -> None:
    assert O200K_SHA256 in inspect.getsource(openai_public.o200k_base)
    assert hashlib.sha256(gzip.decompress(O200K_FILE.read_bytes())).hexdigest() == O200K_SHA256


def test_bundled_encoding_matches_tiktokens_o200k_base(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Seed tiktoken's own cache with the bundled file, so tiktoken builds o200k_base without a download.
    url = "https://openaipublic.blob.core.windows.net/encodings/o200k_base.tiktoken"
    cache_name = hashlib.sha1(url.encode(), usedforsecurity=False).hexdigest()
    (tmp_path / cache_name).write_bytes(gzip.decompress(O200K_FILE.read_bytes()))
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(tmp_path))
    reference = tiktoken.Encoding(**openai_public.o200k_base())
    ours = o200k_base()
    assert ours._pat_str == reference._pat_str
    assert ours._special_tokens == reference._special_tokens
    for text in SAMPLES:
        assert ours.encode_ordinary(text) == reference.encode_ordinary(text)


def test_prompt_tokens_follow_the_chat_format_overhead() -> None:
    body = {"messages": [{"role": "user", "content": "Hello, world!"}]}
    assert count_prompt_tokens(body) == 3 + 4 + 3  # message overhead + 4 text tokens + reply priming


def test_estimate_adds_max_tokens_times_n_and_falls_back_to_the_default() -> None:
    body = {"messages": [{"role": "user", "content": "hi"}], "max_tokens": 50, "n": 2}
    assert estimate_request(body, default_max_tokens=512).max_completion_tokens == 100
    del body["max_tokens"], body["n"]
    estimate = estimate_request(body, default_max_tokens=512)
    assert estimate.max_completion_tokens == 512
    assert estimate.total == estimate.prompt_tokens + 512
