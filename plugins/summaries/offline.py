"""The offline answer of the ``summary`` task: a deterministic, local, extractive summariser.

It reads the same prompt a model would (:func:`plugins.summaries.prompt.parse_prompt`):

* summary: the transcript's sentences scored by the frequency of their content words (stop
  words out), the best few kept in the order they were said;
* reason: the customer's first substantive utterance;
* outcome and follow-ups: cue phrases ("call you back", "I'll send", "escalate",
  "that's all"...);
* suggested disposition: the code whose name and label share most words with the call.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence

from plugins.ai import ChatRequest
from plugins.summaries.prompt import CallSummary, Code, Line, parse_prompt

MAX_SENTENCES = 3
MAX_FOLLOW_UPS = 5
SENTENCE = re.compile(r"[^.!?]+[.!?]*")
WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")
_STOP = """a about above after again all also am an and any are as at be because been before being
    below between both but by can could did do does doing down during each few for from further
    had has have having he her here hers him his how i i'd i'll i'm i've if in into is it it's
    its itself just let me more most my no nor not now of off on once only or other our ours
    out over own please same she should so some such than that that's the their them then
    there these they this those through to too under until up very was we we'll we're were
    what when where which while who whom why will with would yes yeah you you'll you're your
    yours ok okay hi hello thanks thank oh um uh well sure right one get got go going"""
STOP_WORDS = frozenset(_STOP.split())
GREETING_ONLY = frozenset({"hi", "hello", "hey", "yes", "yeah", "ok", "okay", "thanks"})

ESCALATED = ("escalat", "supervisor", "manager", "transfer you", "another department")
CALLBACK = (
    "call you back",
    "call back",
    "callback",
    "ring you back",
    "get back to you",
    "call me back",
)
RESOLVED = (
    "resolved",
    "fixed",
    "sorted",
    "that's all",
    "that is all",
    "all set",
    "works now",
    "working now",
    "problem solved",
    "taken care of",
)
UNRESOLVED = (
    "not resolved",
    "still not",
    "doesn't work",
    "does not work",
    "can't help",
    "cannot help",
    "unable to",
    "not possible",
)
PROMISE = re.compile(
    r"\b(?:i'll|i will|we'll|we will|let me|i'm going to|we're going to)\s+(?P<action>.+)",
    re.IGNORECASE,
)


def _words(text: str) -> list[str]:
    return WORD.findall(text.lower())


def _content(text: str) -> list[str]:
    return [w for w in _words(text) if w not in STOP_WORDS and len(w) > 1]


def _sentences(lines: Sequence[Line]) -> list[tuple[str, str]]:
    """(speaker, sentence) in the order they were said."""
    said: list[tuple[str, str]] = []
    for line in lines:
        for match in SENTENCE.finditer(line.text):
            sentence = match.group().strip()
            if _words(sentence):
                said.append((line.speaker, sentence))
    return said


def _is_customer(speaker: str) -> bool:
    return speaker != "agent"


def summarise(lines: Sequence[Line]) -> str:
    sentences = _sentences(lines)
    frequency = Counter(w for _, sentence in sentences for w in _content(sentence))
    scored: list[tuple[float, int]] = []
    for index, (_, sentence) in enumerate(sentences):
        words = set(_content(sentence))
        if words:
            scored.append((sum(frequency[w] for w in words) / len(words) ** 0.5, index))
    keep = len(sentences) if len(sentences) <= MAX_SENTENCES else MAX_SENTENCES
    chosen = sorted(index for _, index in sorted(scored, key=lambda s: (-s[0], s[1]))[:keep])
    return " ".join(f"{sentences[i][0].capitalize()}: {sentences[i][1]}" for i in chosen)


def reason_of(lines: Sequence[Line]) -> str:
    customer = [line for line in lines if _is_customer(line.speaker)]
    for line in customer:
        for _, sentence in _sentences([line]):
            if len(_content(sentence)) >= 2 and not set(_words(sentence)) <= GREETING_ONLY:
                return sentence
    return customer[0].text if customer else ""


def _has(text: str, cues: Sequence[str]) -> bool:
    return any(cue in text for cue in cues)


def outcome_of(lines: Sequence[Line]) -> str:
    text = " ".join(line.text.lower().replace("\u2019", "'") for line in lines)
    for outcome, cues in (
        ("escalated", ESCALATED),
        ("callback", CALLBACK),
        ("unresolved", UNRESOLVED),
        ("resolved", RESOLVED),
    ):
        if _has(text, cues):
            return outcome
    return "unknown"


def _third_person(action: str) -> str:
    """What an agent promised, said of the customer: "send you" -> "send the customer"."""
    action = re.sub(r"\byour\b", "the customer's", action, flags=re.IGNORECASE)
    return re.sub(r"\byou\b", "the customer", action, flags=re.IGNORECASE)


def follow_ups_of(lines: Sequence[Line]) -> list[str]:
    actions: list[str] = []
    for speaker, sentence in _sentences(lines):
        match = PROMISE.search(sentence.replace("\u2019", "'"))
        if match is None:
            continue
        action = match.group("action").strip().rstrip(".!?").strip()
        if not _content(action):
            continue
        if speaker == "agent":
            action = _third_person(action)
            action = action[0].upper() + action[1:]
        else:
            action = f"{speaker.capitalize()} to {action}"
        if action not in actions:
            actions.append(action)
    return actions[:MAX_FOLLOW_UPS]


def disposition_of(lines: Sequence[Line], codes: Sequence[Code], outcome: str) -> str | None:
    """The code sharing most words with the call (its outcome counts twice); None if none."""
    said = Counter(w for line in lines for w in _content(line.text))
    said[outcome] += 2
    best: tuple[int, str] | None = None
    for code in codes:
        words = set(re.split(r"[^a-z0-9]+", code.code.lower())) | set(_content(code.label))
        score = sum(said[w] for w in words if w)
        if score > 0 and (best is None or score > best[0]):
            best = (score, code.code)
    return best[1] if best else None


def summary_of(lines: Sequence[Line], codes: Sequence[Code]) -> CallSummary:
    outcome = outcome_of(lines)
    return CallSummary(
        summary=summarise(lines),
        reason=reason_of(lines),
        outcome=outcome,
        suggested_disposition=disposition_of(lines, codes, outcome),
        follow_ups=follow_ups_of(lines),
    )


async def offline_summary(request: ChatRequest) -> str:
    """The ``summary`` task's offline answer: JSON of :class:`CallSummary`."""
    prompt = "\n".join(m.content for m in request.messages if m.role == "user")
    lines, codes = parse_prompt(prompt)
    return summary_of(lines, codes).model_dump_json()
