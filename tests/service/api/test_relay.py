"""A relayed JSON answer is sent first and its books closed after, whatever happens to the sending."""

from __future__ import annotations

import asyncio

import pytest
from starlette.types import Message

from service.api.relay import AnswerThenClose

SCOPE = {"type": "http", "method": "POST", "path": "/v1/chat/completions", "headers": []}


async def _receive() -> Message:
    return {"type": "http.disconnect"}


def test_the_answer_is_sent_before_the_books_close() -> None:
    events: list[str] = []

    async def send(message: Message) -> None:
        last = message["type"] == "http.response.body" and not message.get("more_body", False)
        events.append("last byte" if last else message["type"])

    async def close_books() -> None:
        events.append("books closed")

    response = AnswerThenClose(b'{"id":"chatcmpl-1"}', {"X-Cache": "MISS"}, close_books)
    asyncio.run(response(SCOPE, _receive, send))
    assert events == ["http.response.start", "last byte", "books closed"]
    assert response.headers["content-type"] == "application/json"
    assert response.headers["x-cache"] == "MISS"


def test_the_books_close_even_when_sending_fails() -> None:
    closed = []

    async def send(message: Message) -> None:
        if message["type"] == "http.response.body":
            raise OSError("connection reset by peer")

    async def close_books() -> None:
        closed.append(True)

    with pytest.raises(OSError, match="reset"):
        asyncio.run(AnswerThenClose(b"{}", {}, close_books)(SCOPE, _receive, send))
    assert closed == [True]
