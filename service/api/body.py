"""Reading a client's JSON body: content type, size, syntax and nesting depth, before anything else looks at it.

The depth limit is what makes every later walk over client JSON safe by construction: the cache key's
canonical form, the token estimate and the SDK's serialisation all recurse once per level, and orjson
refuses to write more than 254 levels. `MAX_JSON_DEPTH` is capped at `JSON_DEPTH_CEILING` (128) in the
settings, so no accepted body can reach any of those limits.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import orjson
from starlette.requests import Request

from service.errors import InvalidRequest, PayloadTooLarge
from service.settings import JSON_DEPTH_CEILING

JSON_MEDIA_TYPE = "application/json"


def check_content_type(content_type: str | None) -> None:
    """OpenAI's answer to anything but JSON: 400 `unsupported_content_type` (charset and other parameters are fine)."""
    media_type = (content_type or "").split(";", 1)[0].strip().lower()
    if media_type == JSON_MEDIA_TYPE:
        return
    if not media_type:
        message = (
            "Missing content type. This API method only accepts 'application/json' requests; "
            "send the header 'Content-Type: application/json'."
        )
    else:
        shown = (content_type or "")[:100]
        message = (
            f"Unsupported content type: {shown!r}. This API method only accepts 'application/json' requests, "
            f"but you specified the header 'Content-Type: {shown}'. Please try again with a supported content type."
        )
    raise InvalidRequest(message, code="unsupported_content_type")


async def read_limited_body(chunks: AsyncIterator[bytes], content_length: str | None, max_bytes: int) -> bytes:
    """Read at most `max_bytes`; refuse larger bodies without buffering them whole."""
    if content_length and content_length.isdigit() and int(content_length) > max_bytes:
        raise PayloadTooLarge(f"The request body is larger than this service's limit of {max_bytes} bytes")
    parts: list[bytes] = []
    size = 0
    async for chunk in chunks:
        size += len(chunk)
        if size > max_bytes:
            raise PayloadTooLarge(f"The request body is larger than this service's limit of {max_bytes} bytes")
        parts.append(chunk)
    return b"".join(parts)


def too_deep(data: dict[str, Any], max_depth: int) -> str | None:
    """The top-level field whose value nests deeper than `max_depth` levels (the body is level 1), or None.

    Iterative, so the check itself cannot run out of stack whatever it is given.
    """
    stack: list[tuple[Any, int, str]] = [(v, 2, k) for k, v in data.items() if isinstance(v, dict | list)]
    while stack:
        value, depth, field = stack.pop()
        if depth > max_depth:
            return field
        children = value.values() if isinstance(value, dict) else value
        stack.extend((child, depth + 1, field) for child in children if isinstance(child, dict | list))
    return None


def parse_json_object(raw: bytes, max_depth: int = JSON_DEPTH_CEILING) -> dict[str, Any]:
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InvalidRequest(
            f"The request body is not valid JSON ({exc}); send a JSON object", code="invalid_json"
        ) from None
    if not isinstance(data, dict):
        raise InvalidRequest("The request body must be a JSON object", code="invalid_json")
    # Fast path: a body with no more brackets than the limit cannot nest deeper than it.
    if raw.count(b"{") + raw.count(b"[") > max_depth and (field := too_deep(data, max_depth)) is not None:
        raise InvalidRequest(
            f"'{field}' nests JSON deeper than this service's limit of {max_depth} levels; flatten it",
            param=field,
            code="json_too_deep",
        )
    return data


async def read_json_object(request: Request, *, max_bytes: int, max_depth: int) -> dict[str, Any]:
    """The request's body as a JSON object, or the 400/413 that says what is wrong with it."""
    check_content_type(request.headers.get("content-type"))
    raw = await read_limited_body(request.stream(), request.headers.get("content-length"), max_bytes)
    return parse_json_object(raw, max_depth)
