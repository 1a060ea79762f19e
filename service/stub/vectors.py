"""Deterministic embeddings: hashed bags of content words, L2-normalised.

Each content word (see `text.content_words`) adds +1 or -1 to one of `dimensions` buckets chosen by a
stable hash, so the cosine similarity of two texts grows with the words they share and is the same on
every run and machine.
"""

from __future__ import annotations

import base64
import hashlib
import math
import struct
from functools import lru_cache
from typing import Final

from service.stub.text import content_words

DEFAULT_DIMENSIONS: Final = 256
MAX_DIMENSIONS: Final = 4096


@lru_cache(maxsize=65536)
def _bucket(word: str, dimensions: int) -> tuple[int, float]:
    digest = int.from_bytes(hashlib.blake2b(word.encode(), digest_size=8).digest(), "little")
    return digest % dimensions, -1.0 if digest >> 63 else 1.0


def embed(text: str, dimensions: int = DEFAULT_DIMENSIONS) -> list[float]:
    vector = [0.0] * dimensions
    for word in content_words(text):
        index, sign = _bucket(word, dimensions)
        vector[index] += sign
    norm = math.sqrt(sum(x * x for x in vector))
    if norm == 0.0:
        # A text without content words still gets a unit vector, so cosine similarity stays defined.
        vector[0] = 1.0
        return vector
    return [x / norm for x in vector]


def encode_base64(vector: list[float]) -> str:
    """OpenAI's `encoding_format: base64`: little-endian float32s (the SDK asks for this by default)."""
    return base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode("ascii")
