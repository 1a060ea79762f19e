"""The embedded knowledge base, its version, and where it is kept.

The index version is a hash of the chunks (ids, titles, texts), the chunking rule and the embedding
model and dimensions: change any of them and the version changes, the corpus is re-embedded, and the
answer cache (whose prompts carry the version) stops matching old answers.

Where vectors live, in the order they are looked for:

1. a file `<ANSWERS_INDEX_DIR>/index-<version>.bin` (`make index` writes it; under /tmp by default,
   the only writable path of the container);
2. the shared state backend (Redis when REDIS_URL is set) under `answers:index:<version>`, so that one
   container embeds the corpus and every other container and worker reads the result;
3. failing both, the corpus is embedded, in batches. A lock in the shared state (SET NX with an expiry)
   makes one process do it while the others wait for its result; without Redis, a file lock in the
   index directory does the same for the workers of one container.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import hashlib
import math
import os
import secrets
import time
from array import array
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import orjson
import structlog

from service.answers.corpus import CHUNKING_RULE, Chunk
from service.state import StateUnavailable, Store

log = structlog.get_logger(__name__)

FORMAT: Final = "answers-index/v1"
STATE_TTL_SECONDS: Final = 30 * 24 * 3600  # refreshed whenever a process stores it
LOCK_SECONDS: Final = 120.0
# Embedded at every load and compared with the stored index's copy: vectors made by another embedder
# (the local stub, a different deployment, other dimensions) are never mixed with this one's questions.
PROBE_TEXT: Final = "Index probe: which embedder made these vectors?"
_PROBE_VALUES: Final = 16
_PROBE_TOLERANCE: Final = 0.02
_POLL_SECONDS: Final = 0.25

EmbedMany = Callable[[list[str]], Awaitable[list[list[float]]]]


def normalized(vector: Sequence[float]) -> list[float]:
    norm = math.sqrt(sum(x * x for x in vector))
    return [x / norm for x in vector] if norm else list(vector)


def index_version(chunks: Sequence[Chunk], model: str, dimensions: int | None) -> str:
    digest = hashlib.sha256()
    digest.update(orjson.dumps([FORMAT, CHUNKING_RULE, model, dimensions]))
    for chunk in chunks:
        digest.update(orjson.dumps([chunk.id, chunk.title, chunk.section, chunk.text]))
    return digest.hexdigest()[:16]


@dataclass(frozen=True)
class Index:
    version: str
    model: str
    chunks: tuple[Chunk, ...]
    vectors: tuple[list[float], ...]  # unit length, so cosine similarity is a dot product
    probe: tuple[float, ...]  # the start of PROBE_TEXT's vector, and its length last

    def to_bytes(self) -> bytes:
        header = {
            "format": FORMAT,
            "version": self.version,
            "model": self.model,
            "ids": [c.id for c in self.chunks],
            "probe": list(self.probe),
        }
        packed = array("f", (x for vector in self.vectors for x in vector))
        return orjson.dumps(header) + b"\n" + packed.tobytes()

    @classmethod
    def from_bytes(
        cls, data: bytes, version: str, model: str, chunks: Sequence[Chunk], probe: Sequence[float]
    ) -> Index | None:
        """The stored index, if it is the one these chunks, this model and this embedder call for (else None)."""
        head, _, body = data.partition(b"\n")
        try:
            header = orjson.loads(head)
        except orjson.JSONDecodeError:
            return None
        if header.get("version") != version or header.get("ids") != [c.id for c in chunks]:
            return None
        if not same_probe(header.get("probe") or [], probe):
            log.info("answers_index_from_another_embedder", version=version)
            return None
        packed = array("f")
        packed.frombytes(body)
        if not chunks or len(packed) % len(chunks):
            return None
        size = len(packed) // len(chunks)
        vectors = tuple(packed[i * size : (i + 1) * size].tolist() for i in range(len(chunks)))
        return cls(version, model, tuple(chunks), vectors, tuple(probe))


def probe_of(vector: Sequence[float]) -> tuple[float, ...]:
    return (*(round(x, 4) for x in normalized(vector)[:_PROBE_VALUES]), float(len(vector)))


def same_probe(stored: Sequence[float], current: Sequence[float]) -> bool:
    """Equal up to the small run-to-run noise of real embedding models."""
    return len(stored) == len(current) and all(
        abs(a - b) <= _PROBE_TOLERANCE for a, b in zip(stored, current, strict=True)
    )


def _batches(items: Sequence[str], size: int) -> Iterator[list[str]]:
    for start in range(0, len(items), size):
        yield list(items[start : start + size])


async def embed_corpus(chunks: Sequence[Chunk], embed_many: EmbedMany, batch_size: int) -> list[list[float]]:
    """One embeddings request per `batch_size` chunks (OpenAI takes up to 2048 inputs per request)."""
    vectors: list[list[float]] = []
    for batch in _batches([chunk.embedding_input for chunk in chunks], batch_size):
        # float32, as stored: a freshly built index ranks exactly like the same index loaded later
        vectors.extend(array("f", normalized(v)).tolist() for v in await embed_many(batch))
    return vectors


@dataclass
class IndexStore:
    directory: Path
    state: Store | None  # None: files only (the `make index` command)

    def path(self, version: str) -> Path:
        return self.directory / f"index-{version}.bin"

    def read_file(self, version: str) -> bytes | None:
        try:
            return self.path(version).read_bytes()
        except OSError:
            return None

    def write_file(self, index: Index) -> None:
        """Write atomically (temp file, rename): another worker may be reading the same path."""
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            temporary = self.directory / f".index-{index.version}.{os.getpid()}.tmp"
            temporary.write_bytes(index.to_bytes())
            temporary.replace(self.path(index.version))
        except OSError as exc:  # a read-only disk costs a re-embedding at the next start, nothing more
            log.warning("answers_index_not_written", directory=str(self.directory), error=str(exc))

    async def read_state(self, version: str) -> bytes | None:
        if self.state is None:
            return None
        with contextlib.suppress(StateUnavailable):
            return await self.state.get(f"answers:index:{version}")
        return None

    async def write_state(self, index: Index) -> None:
        if self.state is not None:
            with contextlib.suppress(StateUnavailable):
                await self.state.put(f"answers:index:{index.version}", index.to_bytes(), ttl_seconds=STATE_TTL_SECONDS)

    async def load(
        self, version: str, model: str, chunks: Sequence[Chunk], probe: Sequence[float]
    ) -> tuple[Index | None, str]:
        for source, read in (("file", self._read_file_async), ("state", self.read_state)):
            data = await read(version)
            index = Index.from_bytes(data, version, model, chunks, probe) if data else None
            if index is not None:
                return index, source
        return None, ""

    async def _read_file_async(self, version: str) -> bytes | None:
        return self.read_file(version)

    @contextlib.asynccontextmanager
    async def build_lock(self, version: str) -> AsyncIterator[bool]:
        """Held by one builder at a time; yields False when waiting for it ran out (build anyway)."""
        deadline = time.monotonic() + LOCK_SECONDS
        if self.state is not None and self.state.kind == "redis":
            async with self._state_lock(self.state, version, deadline) as acquired:
                yield acquired
        else:
            async with self._file_lock(deadline) as acquired:
                yield acquired

    @contextlib.asynccontextmanager
    async def _state_lock(self, state: Store, version: str, deadline: float) -> AsyncIterator[bool]:
        key, token = f"answers:index-lock:{version}", secrets.token_hex(16).encode()
        acquired = False
        try:
            while not (acquired := await state.put(key, token, ttl_seconds=LOCK_SECONDS, only_if_absent=True)):
                if time.monotonic() > deadline or await self.read_state(version):
                    break
                await asyncio.sleep(_POLL_SECONDS)
        except StateUnavailable:
            acquired = False
        try:
            yield acquired
        finally:
            if acquired:
                with contextlib.suppress(StateUnavailable):
                    await state.delete_if_equals(key, token)

    @contextlib.asynccontextmanager
    async def _file_lock(self, deadline: float) -> AsyncIterator[bool]:
        """The workers of one container (no Redis): an flock on `<dir>/.lock`, polled so the loop keeps serving."""
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            handle = (self.directory / ".lock").open("a")
        except OSError:
            yield False
            return
        with handle:
            acquired = False
            while not acquired:
                try:
                    fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    acquired = True
                except BlockingIOError:
                    if time.monotonic() > deadline:
                        break
                    await asyncio.sleep(_POLL_SECONDS)
            try:
                yield acquired
            finally:
                if acquired:
                    fcntl.flock(handle, fcntl.LOCK_UN)


async def ensure_index(
    chunks: Sequence[Chunk],
    *,
    model: str,
    dimensions: int | None,
    store: IndexStore,
    embed_many: EmbedMany,
    batch_size: int,
) -> tuple[Index, str]:
    """The index for these chunks and model: loaded if stored anywhere, else built (under the lock) and stored.

    Returns the index and where it came from: "file", "state" or "embedded".
    """
    version = index_version(chunks, model, dimensions)
    probe = probe_of((await embed_many([PROBE_TEXT]))[0])
    index, source = await store.load(version, model, chunks, probe)
    if index is None:
        async with store.build_lock(version):
            index, source = await store.load(version, model, chunks, probe)  # built while we waited for the lock
            if index is None:
                started = time.monotonic()
                vectors = await embed_corpus(chunks, embed_many, batch_size)
                index, source = Index(version, model, tuple(chunks), tuple(vectors), probe), "embedded"
                # Both stores are written before the lock is released, so whoever waited on it finds them.
                await store.write_state(index)
                store.write_file(index)
                log.info("answers_index_built", version=version, chunks=len(chunks), seconds=time.monotonic() - started)
    if source == "state":
        store.write_file(index)
    elif source == "file":
        await store.write_state(index)  # `make index` output seeds the fleet's copy
    return index, source
