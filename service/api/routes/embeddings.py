"""`POST /v1/embeddings`: allow-listed embedding models, metered and budgeted like every relayed endpoint."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from service.api.deps import CurrentClient, RelayDep
from service.api.schemas import EMBEDDINGS_DOC
from service.guardrails import Endpoint

router = APIRouter(prefix="/v1", tags=["embeddings"])


@router.post("/embeddings", **EMBEDDINGS_DOC)
async def create_embeddings(request: Request, client: CurrentClient, relay: RelayDep) -> Response:
    return await relay.handle(request, Endpoint.EMBEDDINGS, client)
