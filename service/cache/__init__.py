"""Exact-match response cache: keys, single flight, namespace invalidation, SSE replay."""

from service.cache.keys import OPT_IN_HEADER, CacheMode, cache_mode, normalize, request_digest
from service.cache.replay import StreamAssembler, is_complete, replay_events
from service.cache.response_cache import CacheLookup, CacheScope, CacheStatus, ResponseCache

__all__ = [
    "OPT_IN_HEADER",
    "CacheLookup",
    "CacheMode",
    "CacheScope",
    "CacheStatus",
    "ResponseCache",
    "StreamAssembler",
    "cache_mode",
    "is_complete",
    "normalize",
    "replay_events",
    "request_digest",
]
