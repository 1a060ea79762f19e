"""`make index`: embed the knowledge base and store the index where the service looks first.

    python -m service.answers index [--knowledge-dir DIR] [--index-dir DIR]

Uses OPENAI_API_KEY (and OPENAI_BASE_URL) like the service; without a key it embeds with the local
stub, whose vectors the service will only use when it runs against the stub too (the index's probe
vector tells embedders apart). Prints the index version; the same version means nothing to do.
With REDIS_URL set, the index is also stored there for every container to share.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Sequence
from contextlib import ExitStack
from pathlib import Path

from service.answers.corpus import load_corpus
from service.answers.embeddings import upstream_embedder
from service.answers.index import EmbedMany, IndexStore, ensure_index
from service.api.embedding_metering import EmbedCall
from service.contract import Env
from service.settings import Settings
from service.state import StateConfig, build_shared_state
from service.stub.testing import run_stub
from service.upstream.client import Upstream, build_client
from service.upstream.keys import OpenAIKeySource


def _vectors_of(call: EmbedCall) -> EmbedMany:
    async def embed_many(texts: list[str]) -> list[list[float]]:
        return (await call(texts)).vectors

    return embed_many


async def build(settings: Settings) -> str:
    if settings.openai_api_key is None:
        raise SystemExit("set OPENAI_API_KEY (the index command does not read Secrets Manager)")
    keys = OpenAIKeySource(settings.openai_api_key.get_secret_value())
    client = build_client(settings, keys)
    token = settings.redis_auth_token.get_secret_value() if settings.redis_auth_token else None
    state = (
        build_shared_state(StateConfig(redis_url=settings.redis_url, redis_auth_token=token))
        if settings.redis_url
        else None
    )
    upstream = Upstream(client, keys, settings)
    try:
        chunks = load_corpus(settings.answers_knowledge_dir) if settings.answers_knowledge_dir else load_corpus()
        index, source = await ensure_index(
            chunks,
            model=settings.embedding_model,
            dimensions=settings.embedding_dimensions,
            store=IndexStore(settings.answers_index_dir, state.store if state else None),
            embed_many=_vectors_of(
                upstream_embedder(upstream, settings.embedding_model, settings.embedding_dimensions)
            ),
            batch_size=settings.answers_index_batch_size,
        )
    finally:
        await client.close()
        if state is not None:
            await state.aclose()
    where = settings.answers_index_dir / f"index-{index.version}.bin"
    print(f"index {index.version}: {len(index.chunks)} chunks, model {index.model}, {source}; stored at {where}")
    return index.version


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m service.answers", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    index = commands.add_parser("index", help="embed the knowledge base (skipped when the stored index is current)")
    index.add_argument("--knowledge-dir", type=Path, help="default: ANSWERS_KNOWLEDGE_DIR or service/knowledge")
    index.add_argument("--index-dir", type=Path, help="default: ANSWERS_INDEX_DIR")
    args = parser.parse_args(argv)
    with ExitStack() as stack:
        overrides: dict[str, object] = {}
        if args.knowledge_dir:
            overrides["answers_knowledge_dir"] = args.knowledge_dir
        if args.index_dir:
            overrides["answers_index_dir"] = args.index_dir
        if not os.environ.get(Env.OPENAI_API_KEY):
            stub = stack.enter_context(run_stub())
            overrides["openai_base_url"] = stub.base_url
            overrides["openai_api_key"] = "stub-key-not-a-real-openai-key"
            print("OPENAI_API_KEY is not set: embedding with the local stub", file=sys.stderr)
        settings = Settings(**overrides)  # type: ignore[arg-type]
        asyncio.run(build(settings))
    return 0


if __name__ == "__main__":
    sys.exit(main())
