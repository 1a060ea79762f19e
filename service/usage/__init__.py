"""Usage accounting (tokens, spend, cache hits, saved spend) and the query behind GET /v1/usage."""

from service.usage.measure import Usage, cost_of, usage_fields, usage_of
from service.usage.recorder import UsageEvent, UsageRecorder

__all__ = ["Usage", "UsageEvent", "UsageRecorder", "cost_of", "usage_fields", "usage_of"]
