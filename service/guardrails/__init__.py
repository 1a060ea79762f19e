"""The guide's input limits, applied to each endpoint's request before anything is spent on it.

`prepare_chat_request`, `prepare_responses_request` and `prepare_embeddings_request` validate the client's
JSON, refuse what the settings and the model do not allow (each refusal names the field and the limit; an
unknown or disallowed model is OpenAI's 404 `model_not_found`), and return a `PreparedRequest`: the
parameters to send upstream (the client's own fields, untouched, plus the defaults and the hashed end-user
identity we add) and what metering needs to know about them, in the same shape for every endpoint.
"""

from collections.abc import Callable, Mapping
from typing import Any

from service.guardrails.chat import MAX_STOP_SEQUENCES, ChatCompletionBody, ChatRequest, prepare_chat_request
from service.guardrails.common import Endpoint, PreparedRequest, end_user_id
from service.guardrails.embeddings import EmbeddingsBody, EmbeddingsRequest, prepare_embeddings_request
from service.guardrails.models import largest_output_cap, lookup_model, output_cap, served_models
from service.guardrails.responses import ResponsesBody, ResponsesRequest, prepare_responses_request
from service.settings import Settings

Prepare = Callable[[dict[str, Any], Settings, str], PreparedRequest]
# One preparation per upstream endpoint (mypy checks that each returns a PreparedRequest).
PREPARE: Mapping[Endpoint, Prepare] = {
    Endpoint.CHAT: prepare_chat_request,
    Endpoint.RESPONSES: prepare_responses_request,
    Endpoint.EMBEDDINGS: prepare_embeddings_request,
}

__all__ = [
    "MAX_STOP_SEQUENCES",
    "PREPARE",
    "ChatCompletionBody",
    "ChatRequest",
    "EmbeddingsBody",
    "EmbeddingsRequest",
    "Endpoint",
    "Prepare",
    "PreparedRequest",
    "ResponsesBody",
    "ResponsesRequest",
    "end_user_id",
    "largest_output_cap",
    "lookup_model",
    "output_cap",
    "prepare_chat_request",
    "prepare_embeddings_request",
    "prepare_responses_request",
    "served_models",
]
