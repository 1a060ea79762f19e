"""The service's own resources: its models, a client's usage, and the cache namespace an admin bumps."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from service.api.responses import json_response, operation_doc, schema_ref


class Health(BaseModel):
    status: Literal["ok"]


class Model(BaseModel):
    id: str
    object: Literal["model"]
    created: int
    owned_by: str


class ModelList(BaseModel):
    object: Literal["list"]
    data: list[Model] = Field(description="The allowed chat and embedding models")


class UsagePeriod(BaseModel):
    period: str = Field(description="The day (2026-12-01) or the month (2026-12), UTC")
    resets_at: datetime
    requests: int
    prompt_tokens: int
    cached_prompt_tokens: int
    completion_tokens: int
    total_tokens: int
    spend_usd: float
    cache_hits: int
    saved_tokens: int = Field(description="Tokens the response cache saved")
    saved_usd: float = Field(description="Spend the response cache saved")


class UsageReport(BaseModel):
    object: Literal["usage.report"]
    client_id: str
    day: UsagePeriod
    month: UsagePeriod


class UsageReportList(BaseModel):
    """An admin's view: every client with usage this month."""

    object: Literal["list"]
    data: list[UsageReport]


class CacheNamespace(BaseModel):
    object: Literal["cache.namespace"]
    version: int = Field(description="The new namespace: answers cached before it are no longer served")


HEALTH_DOC = operation_doc(json_response("The process answers (nothing else is checked)", Health), ())
MODELS_LIST_DOC = operation_doc(json_response("The models clients may use here", ModelList), (401,))
MODEL_RETRIEVE_DOC = operation_doc(json_response("The model, if it is served here", Model), (401, 404))
USAGE_DOC = operation_doc(
    json_response(
        "Your usage; an admin without `client_id`: every client's",
        {"anyOf": [schema_ref(UsageReport), schema_ref(UsageReportList)]},
    ),
    (401, 403, 503),
)
CACHE_INVALIDATE_DOC = operation_doc(json_response("The cache's new namespace", CacheNamespace), (400, 401, 403, 503))
