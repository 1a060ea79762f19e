"""What every endpoint's request preparation shares: the prepared request's shape and the policies all apply."""

from __future__ import annotations

import hashlib
from enum import StrEnum
from typing import Any, Protocol, TypeVar

from pydantic import BaseModel, ValidationError

from service.errors import InvalidRequest, validation_error
from service.settings import Settings

Body = TypeVar("Body", bound=BaseModel)


class Endpoint(StrEnum):
    """The upstream path a prepared request goes to (under OpenAI's /v1)."""

    CHAT = "/chat/completions"
    RESPONSES = "/responses"
    EMBEDDINGS = "/embeddings"


class PreparedRequest(Protocol):
    """A validated request, as one metered relay treats it whatever its endpoint."""

    @property
    def endpoint(self) -> Endpoint: ...

    @property
    def params(self) -> dict[str, Any]:
        """What goes upstream."""

    @property
    def model(self) -> str: ...

    @property
    def stream(self) -> bool: ...

    @property
    def include_usage(self) -> bool:
        """The client sees the usage: chat's usage chunk when asked for, always for Responses, never for embeddings."""

    @property
    def max_output_tokens(self) -> int:
        """The most output tokens one choice can produce (reasoning included); 0 for embeddings."""

    @property
    def n(self) -> int: ...

    @property
    def input_text(self) -> str:
        """The request's text, for moderation."""

    def estimate_input_tokens(self) -> int:
        """Input tokens counted with o200k_base before the call: the worst case, reconciled with the real usage."""


def parse_body(model: type[Body], body: dict[str, Any]) -> Body:
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        raise validation_error(exc.errors()) from None


def end_user_id(client_id: str, user: str | None) -> str:
    """A stable pseudonym OpenAI can use to report abuse by one end user, without learning who it is."""
    return hashlib.sha256(f"{client_id}\x00{user or ''}".encode()).hexdigest()[:32]


def pseudonymise(params: dict[str, Any], client_id: str, user: str | None, safety_identifier: str | None) -> None:
    """The client's end users reach OpenAI only as pseudonyms (abuse reports still trace back to one of them)."""
    params["user"] = end_user_id(client_id, user)
    if safety_identifier is not None:
        params["safety_identifier"] = end_user_id(client_id, safety_identifier)


def apply_store_policy(params: dict[str, Any], settings: Settings) -> None:
    if not settings.upstream_store:
        params["store"] = False  # data retention: OpenAI keeps nothing, whatever the client asked


def check_input_chars(texts: list[str], settings: Settings, param: str, what: str) -> None:
    total = sum(map(len, texts))
    if total > settings.max_input_chars:
        raise InvalidRequest(
            f"{what} {total} characters; this service accepts at most {settings.max_input_chars}",
            param=param,
            code="context_length_exceeded",
        )
