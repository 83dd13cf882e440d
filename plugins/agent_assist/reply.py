"""The ``assist.reply`` task: a reply the agent could say next, from what the customer said
and the best articles. The prompt is plain text in a fixed layout (below) so any model reads
it, and so the offline answer can too: it frames the best article's sentences that share
the most words with the customer's as the reply (deterministic, local, no key)."""

from __future__ import annotations

import re
from collections.abc import Sequence

from pydantic import BaseModel, Field

from plugins.agent_assist.search import terms_of
from plugins.ai import AiTask, ChatRequest

TASK = "assist.reply"
SAID = "The customer said:"
ARTICLES = "Knowledge base articles, most relevant first:"
ASK = (
    "Write the reply the agent could say next: one to three short sentences, in the "
    "customer's language, using only what the articles say. No greeting."
)
SYSTEM = (
    "You help a contact center agent during a live call. Answer with the reply only, as "
    "the JSON document asked for."
)
BODY_CHARS = 2000
"""Per article in the prompt: enough for a reply, little to send."""
SENTENCE = re.compile(r"(?<=[.!?])\s+|\n+")


class SuggestedReply(BaseModel):
    reply: str = Field(max_length=2000)


def prompt_of(said: str, articles: Sequence[tuple[str, str]]) -> str:
    """The prompt: what the customer said, then each article's title and body."""
    parts = [SAID, said.strip(), "", ARTICLES]
    for title, body in articles:
        parts += ["", f"## {title}", body.strip()[:BODY_CHARS]]
    parts += ["", ASK]
    return "\n".join(parts)


def _sections(text: str) -> tuple[str, list[tuple[str, str]]]:
    """The prompt read back: what was said, and the (title, body) of each article."""
    said, _, rest = text.partition(f"\n\n{ARTICLES}")
    said = said.removeprefix(SAID).strip()
    rest = rest.rsplit(f"\n\n{ASK}", 1)[0]
    articles: list[tuple[str, str]] = []
    for chunk in rest.split("\n## ")[1:]:
        title, _, body = chunk.partition("\n")
        articles.append((title.strip(), body.strip()))
    return said, articles


def offline_reply(text: str) -> str:
    """Up to two sentences of the first article, those sharing most words with what the
    customer said, in the article's order."""
    said, articles = _sections(text)
    if not articles:
        return ""
    _title, body = articles[0]
    sentences = [s.strip() for s in SENTENCE.split(body) if s.strip() and not s.startswith("#")]
    wanted = set(terms_of(said))
    scored = [
        (len(wanted & set(terms_of(sentence))), -index, sentence)
        for index, sentence in enumerate(sentences)
    ]
    best = sorted(scored, reverse=True)[:2]
    chosen = [s for _, _, s in sorted(best, key=lambda item: -item[1])]
    return " ".join(chosen)


async def _offline(request: ChatRequest) -> str:
    text = "\n".join(m.content for m in request.messages if m.role == "user")
    return SuggestedReply(reply=offline_reply(text)[:2000]).model_dump_json()


TASKS = [
    AiTask(
        TASK,
        "A reply for the agent on a live call, from what the customer said and the "
        "knowledge base's best articles (agent_assist).",
        _offline,
    )
]
