"""Optional input moderation (the guide's safety section): flagged input never reaches the model."""

from __future__ import annotations

from service.errors import InvalidRequest
from service.upstream.client import Upstream


async def check_input(upstream: Upstream, text: str, model: str, *, param: str) -> None:
    """Refuse flagged input with a 400 naming `param`, the request field the text came from."""
    if not text.strip():
        return
    result = await upstream.call(lambda: upstream.client.moderations.create(model=model, input=text))
    flagged = [item for item in result.results if item.flagged]
    if flagged:
        categories = sorted(
            {name for item in flagged for name, hit in item.categories.model_dump(by_alias=True).items() if hit}
        )
        raise InvalidRequest(
            "The input was flagged by content moderation"
            + (f" ({', '.join(categories)})" if categories else "")
            + "; rephrase it and try again",
            param=param,
            code="content_policy_violation",
        )
