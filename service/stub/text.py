"""Token counting and the stub's deterministic chat replies.

A token is a run of word characters or a single other non-space character, so
`count_tokens("Hello, world!") == 4`. Replies are split into "pieces" (a token with the whitespace before
it) so that joining the pieces gives the text back and each piece is one streamed chunk.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from service.catalog import spec_for

I_DONT_KNOW: Final = "I don't know: the knowledge base does not cover this."
REPLY_PREFIX: Final = "Stub reply to:"
DEFAULT_REPLY_TOKENS: Final = 20
_ECHO_WORDS: Final = 8
_FILLER: Final = ("lorem", "ipsum", "dolor", "sit", "amet", "consectetur", "adipiscing", "elit")

# Tokens a reasoning model (service/catalog.py) spends thinking, by effort, before its visible reply.
REASONING_TOKENS: Final = {"none": 0, "minimal": 8, "low": 16, "medium": 32, "high": 64, "xhigh": 128}

_TOKEN_RE: Final = re.compile(r"\w+|[^\w\s]")
_PIECE_RE: Final = re.compile(r"\s*(?:\w+|[^\w\s])")
_WORD_RE: Final = re.compile(r"\w+")
# `[doc-id] text`, optionally as a list item.
_DOC_LINE_RE: Final = re.compile(r"^[ \t]*(?:[-*][ \t]*)?\[([^\]\n]+)\][ \t]*(\S.*)$", re.MULTILINE)
# A `Context:` line opens a section that runs to a `Question:` line or the end of the message.
_CONTEXT_RE: Final = re.compile(r"^[ \t]*context:\s*(.*?)(?=^[ \t]*question:|\Z)", re.I | re.DOTALL | re.M)
_QUESTION_RE: Final = re.compile(r"^[ \t]*question:\s*(.*)\Z", re.I | re.DOTALL | re.M)
_SENTENCE_SPLIT_RE: Final = re.compile(r"(?<=[.!?])\s+|\n+")
# A grading prompt (the evals' model-graded check, evals/runner.py JUDGE_PROMPT) ends with these lines.
JUDGE_INSTRUCTION: Final = "Reply with one word: CORRECT or INCORRECT."
_GRADED_RE: Final = re.compile(r"^Reference answer:\s*(.*?)\n+Submitted answer:\s*(.*)\Z", re.M | re.S)

# Words too common to count as overlap; without this every question "matches" every sentence.
# fmt: off
STOPWORDS: Final = frozenset({
    "a", "an", "and", "are", "as", "at", "be", "been", "but", "by", "can", "could", "did", "do", "does",
    "for", "from", "had", "has", "have", "how", "i", "if", "in", "into", "is", "it", "its", "me", "my", "no",
    "not", "of", "on", "or", "our", "so", "than", "that", "the", "their", "them", "then", "there", "these",
    "they", "this", "to", "was", "we", "were", "what", "when", "where", "which", "who", "whom", "why",
    "will", "with", "would", "you", "your",
})
# fmt: on


def count_tokens(text: str) -> int:
    return len(_TOKEN_RE.findall(text))


def split_pieces(text: str) -> list[str]:
    """The streamed chunks of `text`: one token each, carrying the whitespace before it."""
    return _PIECE_RE.findall(text)


def content_words(text: str) -> list[str]:
    """Lower-cased words minus stopwords, with a plural 's' dropped so 'containers' meets 'container'."""
    words = []
    for word in _WORD_RE.findall(text.lower()):
        if word in STOPWORDS:
            continue
        plural = len(word) > 3 and word.endswith("s") and not word.endswith("ss")
        words.append(word[:-1] if plural else word)
    return words


def message_text(message: Mapping[str, Any]) -> str:
    """The text of a chat message whose content is a string or a list of content parts."""
    content = message.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(
            part["text"] for part in content if isinstance(part, dict) and isinstance(part.get("text"), str)
        )
    return ""


def prompt_tokens(messages: Iterable[Mapping[str, Any]]) -> int:
    return sum(count_tokens(message_text(message)) for message in messages)


def _sentences(text: str) -> list[str]:
    return [sentence.strip() for sentence in _SENTENCE_SPLIT_RE.split(text) if sentence.strip()]


def context_sentences(texts: Iterable[str]) -> list[str]:
    """Sentences of the `[doc-id] ...` lines, or failing those of the `Context:` sections, in order."""
    texts = list(texts)
    from_docs = [s for text in texts for match in _DOC_LINE_RE.finditer(text) for s in _sentences(match[2])]
    if from_docs:
        return from_docs
    return [s for text in texts for match in _CONTEXT_RE.finditer(text) for s in _sentences(match[1])]


def question_of(text: str) -> str:
    """The question in a user message that may also carry the context block."""
    if match := _QUESTION_RE.search(text):
        return match[1].strip()
    without_docs = _DOC_LINE_RE.sub("", text)
    return _CONTEXT_RE.sub("", without_docs).strip()


def extractive_answer(sentences: Sequence[str], question: str) -> str:
    """The sentence sharing the most content words with the question (first on ties), else I_DONT_KNOW."""
    asked = set(content_words(question))
    best, best_overlap = I_DONT_KNOW, 0
    for sentence in sentences:
        overlap = len(asked.intersection(content_words(sentence)))
        if overlap > best_overlap:
            best, best_overlap = sentence, overlap
    return best


def echo_reply(user_text: str, reply_tokens: int = DEFAULT_REPLY_TOKENS) -> str:
    """`Stub reply to: <first words>` padded with filler words up to `reply_tokens` tokens."""
    words = [REPLY_PREFIX, *user_text.split()[:_ECHO_WORDS]]
    tokens = count_tokens(" ".join(words))
    filler = 0
    while tokens < reply_tokens:
        words.append(_FILLER[filler % len(_FILLER)])
        filler += 1
        tokens += 1
    return " ".join(words)


def judge_verdict(prompt: str) -> str | None:
    """The stub as a judge: CORRECT when the submission holds at least half the reference's content words.

    None when `prompt` is not a grading prompt. Deterministic, so the judge path is tested end to end.
    """
    graded = _GRADED_RE.search(prompt) if JUDGE_INSTRUCTION in prompt else None
    if graded is None:
        return None
    reference, submitted = (set(content_words(part)) for part in graded.groups())
    if not reference:
        return "INCORRECT"
    return "CORRECT" if len(reference & submitted) * 2 >= len(reference) else "INCORRECT"


def chat_reply(messages: Sequence[Mapping[str, Any]], reply_tokens: int = DEFAULT_REPLY_TOKENS) -> str:
    """The deterministic assistant reply to a conversation."""
    last_user = next((m for m in reversed(messages) if m.get("role") == "user"), None)
    user_text = message_text(last_user) if last_user is not None else ""
    verdict = judge_verdict(user_text)
    if verdict is not None:
        return verdict
    context_roles = ("system", "developer", "user")
    sentences = context_sentences(message_text(m) for m in messages if m.get("role") in context_roles)
    if sentences:
        return extractive_answer(sentences, question_of(user_text))
    return echo_reply(user_text, reply_tokens)


def truncate(text: str, stop: Sequence[str], max_tokens: int | None) -> tuple[list[str], str]:
    """Cut `text` at the first stop sequence and to `max_tokens`; the pieces and the finish reason."""
    cuts = [index for index in (text.find(s) for s in stop if s) if index >= 0]
    if cuts:
        text = text[: min(cuts)]
    pieces = split_pieces(text)
    if max_tokens is not None and len(pieces) > max_tokens:
        return pieces[:max_tokens], "length"
    return pieces, "stop"


def reasoning_tokens(model: str, effort: str | None) -> int:
    """What `model` spends on reasoning at `effort` (its default effort when None); 0 for other models."""
    spec = spec_for(model)
    if spec is None or not spec.reasoning:
        return 0
    return REASONING_TOKENS.get(effort or spec.default_effort or "medium", REASONING_TOKENS["medium"])


@dataclass(frozen=True)
class Reply:
    pieces: list[str]  # the visible reply, one token each
    finish_reason: str  # "stop", or "length" when max tokens cut it short
    reasoning_tokens: int

    @property
    def output_tokens(self) -> int:
        """What one choice bills as output: the visible tokens and the reasoning ones."""
        return len(self.pieces) + self.reasoning_tokens


def reply(
    messages: Sequence[Mapping[str, Any]],
    *,
    model: str,
    effort: str | None = None,
    stop: Sequence[str] = (),
    max_tokens: int | None = None,
    reply_tokens: int = DEFAULT_REPLY_TOKENS,
) -> Reply:
    """The reply to a conversation. Reasoning comes first and counts against `max_tokens`, as OpenAI counts it."""
    thinking = reasoning_tokens(model, effort)
    visible = None
    if max_tokens is not None:
        thinking = min(thinking, max_tokens)
        visible = max_tokens - thinking
    pieces, finish_reason = truncate(chat_reply(messages, reply_tokens), stop, visible)
    return Reply(pieces, finish_reason, thinking)
