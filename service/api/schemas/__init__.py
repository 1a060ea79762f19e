"""Schema-only request and response bodies, and one decorator splat per operation.

Routes read their bodies raw (service.api.body) and return bytes or dicts, so FastAPI sees no body model:
each operation's documentation comes from here instead, as keyword arguments for its decorator:

    @router.post("/chat/completions", **CHAT_COMPLETIONS_DOC)

Nothing here validates anything at run time; the guardrails do (service.guardrails), and tests keep the
request models equal to the guardrails' checks.
"""

from service.api.schemas.answers import ANSWERS_DOC
from service.api.schemas.chat import CHAT_COMPLETIONS_DOC
from service.api.schemas.embeddings import EMBEDDINGS_DOC
from service.api.schemas.resources import (
    CACHE_INVALIDATE_DOC,
    HEALTH_DOC,
    MODEL_RETRIEVE_DOC,
    MODELS_LIST_DOC,
    USAGE_DOC,
)
from service.api.schemas.responses_api import RESPONSES_DOC

__all__ = [
    "ANSWERS_DOC",
    "CACHE_INVALIDATE_DOC",
    "CHAT_COMPLETIONS_DOC",
    "EMBEDDINGS_DOC",
    "HEALTH_DOC",
    "MODELS_LIST_DOC",
    "MODEL_RETRIEVE_DOC",
    "RESPONSES_DOC",
    "USAGE_DOC",
]
