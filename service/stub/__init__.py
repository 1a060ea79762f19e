"""A local, OpenAI-compatible upstream for development, tests and benchmarks.

Run it with `python -m service.stub --port 8081`; drive it from tests with
`service.stub.testing.run_stub()`. Everything it answers is deterministic:

- Tokens are counted by one rule everywhere: every run of word characters (`\\w+`) is one token and
  every other non-space character is one token ("Hello, world!" is 4 tokens). `prompt_tokens` is the
  count over the text of all messages; `completion_tokens` the count over the generated text.
- Chat replies are extractive when the messages carry a context block (`[doc-id] sentence` lines or a
  `Context:` section): the context sentence sharing the most content words with the question, or
  `I don't know: the knowledge base does not cover this.` when none shares a word. Otherwise the reply
  is `Stub reply to: <first words of the last user message>` padded with filler words.
- Embeddings are hashed bags of content words, L2-normalised, so texts sharing words are close.
- Moderation flags any input containing a marker word (`FLAG_ME` by default).
- `/v1/responses` answers with the chat reply to the same conversation, plain or as Responses events. A
  reasoning model (one service/catalog.py marks so) also spends a fixed number of reasoning tokens per
  effort (`text.REASONING_TOKENS`), on chat completions too, counted against max tokens.
- `/v1/models` lists the models of service/catalog.py; `/v1/models/{model}` answers one of them, or 404
  `model_not_found`.

Latency knobs, scripted faults (`POST /_stub/faults`), runtime config (`POST /_stub/config`) and request
observation (`GET /_stub/stats`) are described in `service.stub.app`.
"""
