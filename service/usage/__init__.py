"""Usage accounting (tokens, spend, cache hits, saved spend) and the query behind GET /v1/usage."""

from service.usage.recorder import UsageEvent, UsageRecorder

__all__ = ["UsageEvent", "UsageRecorder"]
