"""Rate-limit headers in OpenAI's shape, so clients' existing backoff logic works unchanged."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|h|m|s)")
_UNIT_SECONDS = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}


def format_reset(seconds: float) -> str:
    """OpenAI's reset format: `20ms`, `1s`, `1.5s`, `6m0s`."""
    seconds = max(0.0, seconds)
    if seconds < 1:
        return f"{math.ceil(seconds * 1000)}ms"
    minutes, rest = divmod(seconds, 60)
    rest_text = f"{rest:.3f}".rstrip("0").rstrip(".")
    return f"{int(minutes)}m{rest_text}s" if minutes else f"{rest_text}s"


def parse_reset(text: str) -> float | None:
    """Seconds from an OpenAI reset header (`6m0s`, `20ms`); None if it is not one."""
    parts = _DURATION_PART.findall(text.strip())
    if not parts or "".join(n + u for n, u in parts) != text.strip():
        return None
    return sum(float(number) * _UNIT_SECONDS[unit] for number, unit in parts)


@dataclass(frozen=True)
class WindowReport:
    """One limit's state, as reported to the caller."""

    kind: str  # "requests" or "tokens"
    limit: int
    remaining: int
    reset_seconds: float

    def headers(self) -> dict[str, str]:
        return {
            f"x-ratelimit-limit-{self.kind}": str(self.limit),
            f"x-ratelimit-remaining-{self.kind}": str(max(0, self.remaining)),
            f"x-ratelimit-reset-{self.kind}": format_reset(self.reset_seconds),
        }


def retry_after(seconds: float) -> dict[str, str]:
    """`Retry-After` (whole seconds, as HTTP wants) and `retry-after-ms` (the OpenAI SDK reads it first)."""
    seconds = max(seconds, 0.001)
    return {"retry-after": str(max(1, math.ceil(seconds))), "retry-after-ms": str(math.ceil(seconds * 1000))}
