"""Importing articles from Markdown or CSV: parsed whole before anything is stored, so a
bad file imports nothing and the 422 lists every problem with its line number.

Markdown: each ``# `` heading starts an article (its title); the lines up to the next one
are its body; a line ``Tags: a, b`` right under the heading gives its tags. CSV: a header
row with ``title`` and ``body`` (``tags`` optional, comma-separated inside the cell).
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field

MAX_BYTES = 1_000_000
MAX_ARTICLES = 1000
TITLE_MAX = 200
BODY_MAX = 50_000
TAGS_MAX = 20
TAG_MAX = 50


@dataclass
class Parsed:
    title: str
    body: str
    tags: list[str]
    line: int


@dataclass
class Outcome:
    articles: list[Parsed] = field(default_factory=list)
    errors: list[dict[str, object]] = field(default_factory=list)

    def refuse(self, line: int, message: str) -> None:
        """Like every 422's field errors (``loc``, ``message``), plus the file's ``line``."""
        self.errors.append({"loc": ["body", "content", line], "line": line, "message": message})


def split_tags(text: str) -> list[str]:
    tags: list[str] = []
    for tag in (t.strip() for t in text.split(",")):
        if tag and tag not in tags:
            tags.append(tag)
    return tags


def _check(outcome: Outcome, item: Parsed) -> None:
    if not item.title:
        outcome.refuse(item.line, "the title is empty")
    elif len(item.title) > TITLE_MAX:
        outcome.refuse(item.line, f"the title is longer than {TITLE_MAX} characters")
    if not item.body.strip():
        outcome.refuse(item.line, f"the article {item.title!r} has no body")
    elif len(item.body) > BODY_MAX:
        outcome.refuse(item.line, f"the body is longer than {BODY_MAX} characters")
    if len(item.tags) > TAGS_MAX or any(len(t) > TAG_MAX for t in item.tags):
        outcome.refuse(item.line, f"at most {TAGS_MAX} tags of at most {TAG_MAX} characters")
    outcome.articles.append(item)


def parse_markdown(text: str) -> Outcome:
    outcome = Outcome()
    current: Parsed | None = None
    lines: list[str] = []

    def close() -> None:
        if current is not None:
            current.body = "\n".join(lines).strip()
            _check(outcome, current)

    for number, line in enumerate(text.splitlines(), start=1):
        if line.startswith("# "):
            close()
            current, lines = Parsed(line[2:].strip(), "", [], number), []
        elif current is None:
            if line.strip():
                outcome.refuse(number, "text before the first '# ' heading (an article's title)")
        elif not lines and line.lower().startswith("tags:") and not current.tags:
            current.tags = split_tags(line[5:])
        else:
            lines.append(line)
    close()
    if not outcome.articles and not outcome.errors:
        outcome.refuse(1, "no article: each one starts with a '# ' heading")
    return outcome


def parse_csv(text: str) -> Outcome:
    outcome = Outcome()
    reader = csv.DictReader(io.StringIO(text, newline=""))
    fields = [f.strip().lower() for f in reader.fieldnames or []]
    missing = [f for f in ("title", "body") if f not in fields]
    if missing:
        outcome.refuse(1, f"the header row lacks {', '.join(missing)} (title, body, tags)")
        return outcome
    reader.fieldnames = fields
    try:
        for row in reader:
            line = reader.line_num
            if None in row:
                outcome.refuse(line, "more cells than the header row has columns")
                continue
            title = (row.get("title") or "").strip()
            body = (row.get("body") or "").strip()
            if not title and not body and not (row.get("tags") or "").strip():
                continue  # a blank row
            _check(outcome, Parsed(title, body, split_tags(row.get("tags") or ""), line))
    except csv.Error as exc:
        outcome.refuse(reader.line_num, f"not valid CSV: {exc}")
    if not outcome.articles and not outcome.errors:
        outcome.refuse(2, "no article: one row per article under the header row")
    return outcome


def parse(kind: str, text: str) -> Outcome:
    outcome = parse_markdown(text) if kind == "markdown" else parse_csv(text)
    if len(outcome.articles) > MAX_ARTICLES:
        outcome.refuse(1, f"at most {MAX_ARTICLES} articles in one import")
    return outcome
