"""The token rule and reply logic, without a server."""

from __future__ import annotations

import pytest

from service.stub import text


@pytest.mark.parametrize(
    ("sample", "tokens"),
    [("Hello, world!", 4), ("", 0), ("don't stop", 4), ("  spaced   out  ", 2), ("[doc-1] a.b", 8)],
)
def test_tokens_are_words_and_punctuation(sample: str, tokens: int) -> None:
    assert text.count_tokens(sample) == tokens


def test_pieces_rebuild_the_text_one_token_each() -> None:
    sample = "Stub reply to: Hello, world! lorem ipsum"
    pieces = text.split_pieces(sample)
    assert "".join(pieces) == sample
    assert len(pieces) == text.count_tokens(sample)


def test_echo_reply_is_padded_to_the_default_length() -> None:
    reply = text.chat_reply([{"role": "user", "content": "Tell me a joke"}])
    assert reply.startswith("Stub reply to: Tell me a joke ")
    assert text.count_tokens(reply) == text.DEFAULT_REPLY_TOKENS


def test_echo_reply_reads_content_parts() -> None:
    message = {"role": "user", "content": [{"type": "text", "text": "Describe this"}, {"type": "image_url"}]}
    assert text.chat_reply([message]).startswith("Stub reply to: Describe this ")


def test_context_section_with_question_line() -> None:
    prompt = (
        "Context:\nThe cache keeps answers for an hour. Redis stores the rate limits.\n\n"
        "Question: Where are rate limits stored?"
    )
    assert text.chat_reply([{"role": "user", "content": prompt}]) == "Redis stores the rate limits."


def test_doc_lines_in_system_message() -> None:
    messages = [
        {
            "role": "system",
            "content": "Answer from these documents:\n[a] Tasks run on Fargate.\n- [b] Logs go to CloudWatch.",
        },
        {"role": "user", "content": "Where do the logs go?"},
    ]
    assert text.chat_reply(messages) == "Logs go to CloudWatch."


def test_stopwords_alone_do_not_count_as_overlap() -> None:
    messages = [
        {"role": "system", "content": "[a] The service is in the cloud."},
        {"role": "user", "content": "What is the answer to this?"},
    ]
    assert text.chat_reply(messages) == text.I_DONT_KNOW


def test_truncate_prefers_the_earliest_stop_sequence() -> None:
    pieces, reason = text.truncate("one two three four", ["four", "three"], None)
    assert ("".join(pieces), reason) == ("one two", "stop")


def test_truncate_to_max_tokens_reports_length() -> None:
    pieces, reason = text.truncate("one two three", [], 2)
    assert ("".join(pieces), reason) == ("one two", "length")
