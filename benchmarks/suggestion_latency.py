"""Agent-assist suggestion latency: from a customer's transcript segment accepted (the
``calls.call.transcribed`` event's transaction committed) to its call's
``agent_assist.suggestion.created`` on the real-time stream, with a stand-in model answering
in ``--model-latency`` (300 ms), against the event bus's own latency for the segment's event
in the same run.

The platform (calls, agents, ai, openai, agent_assist; background workers on) is served by
uvicorn on 127.0.0.1 in this process, one organization with ``--calls`` live calls, each with
a (simulated) agent on it as routing leaves one: ``on_call``, ``current_call_id`` the
customer's call. The organization stores its OpenAI key in the vault and routes
``assist.reply`` to OpenAI through the API (that task only: articles are found by their words,
the database's text search); "OpenAI" is the plugin's wire-format stand-in
(``plugins.openai.testing``), answering each request after ``--model-latency``. The knowledge
base is 20 articles imported as Markdown, each with words of its own; each customer sentence
matches exactly one, and a call's segments go through the topics in turn, so every segment
yields a new suggestion (articles already suggested on a call are not suggested again).

Segments are accepted as the calls plugin accepts a provider's transcript: one transaction
that stores the segment (``calls_transcript_segments``, speaker ``customer``) and publishes
``calls.call.transcribed``, at ``--rate`` segments/s for ``--seconds``, spread over the calls
in turn. Each commit is stamped. A WebSocket client of the organization's admin, subscribed
over ``/api/v1/realtime`` to both event names, stamps each arrival:

* baseline: commit -> ``calls.call.transcribed`` on the stream (the bus: outbox, dispatch,
  real-time fan-out);
* suggestion: commit -> the segment's ``agent_assist.suggestion.created`` (the bus, the
  plugin consumers' runner, the agent_assist consumer: lookups, search, re-ranking, the
  gateway and the model, storing, publishing, and the bus again).

Where the time goes: the benchmark wraps the consumer's own functions (``on_events``,
``suggest`` and the gateway's ``complete`` as ``suggest`` calls it; a clock read each) to
stamp each segment when the consumer takes it, asks the model, has the answer and has
committed; the stand-in stamps its own answer time, the floor.

Reported: p50/p95/p99/max of both, the ratio, the stand-in's answer time, suggestion p95
minus the model's latency (the platform's own share), the breakdown, and the goal
(suggestion p95 < 600 ms: PASS or FAIL). Exit 1 when a segment never got its suggestion (a
bug), not for the goal. The run waits for the last suggestion as long as suggestions keep
coming (``--drain``: seconds without one before giving up).

PostgreSQL with ``KRALIKI_BENCH_DATABASE_URL`` and ``KRALIKI_BENCH_MIGRATION_DATABASE_URL``
(a throwaway schema), else a SQLite file.

    .venv/bin/python benchmarks/suggestion_latency.py [--rate 20] [--seconds 10] [--calls 100]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import contextvars
import math
import os
import re
import sys
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx
import transcripts
import websockets
from harness import Backend, machine, percentile
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.responses import Response
from transcripts import TRANSCRIBED, consume, paced, serving, subscribed

from kernel import DeliveredEvent, Platform, utcnow
from plugins.agent_assist.search import MAX_TERMS, terms_of
from plugins.agent_assist.suggest import WINDOW_SEGMENTS
from plugins.agents import Agent, AgentState
from plugins.ai import complete as ai_complete
from plugins.calls import Call
from plugins.openai.testing import OpenAIStandIn

JWT_SECRET = "suggestion-benchmark-signing-key-0123456789abcdef"
PASSWORD = "suggestion benchmark password"
GOAL_P95_MS = 600.0
IDLE_SECONDS = 2.0
SUGGESTED = "agent_assist.suggestion.created"

# (title, body, what a customer says): each sentence's search terms appear in its own
# article only (checked at start-up), at most MAX_TERMS / WINDOW_SEGMENTS of them, so the
# window of a call's last three segments always holds the newest segment's words.
TOPICS: tuple[tuple[str, str, str], ...] = (
    (
        "Refunds for damaged parcels",
        "A damaged parcel is refunded in full within 14 days. Ask for a photo of the damage "
        "and the parcel's label; no need to send it back.",
        "My parcel arrived damaged, I want a refund.",
    ),
    (
        "Resetting a password",
        "Send a password reset link from the account page. The link expires after one hour; "
        "a customer who forgot the password can also sign in with a code by text message.",
        "I forgot my password, the login fails.",
    ),
    (
        "Changing the delivery address",
        "The delivery address can change until the courier collects the goods. Edit the "
        "address on the shipment page; after collection the courier redirects it for a fee.",
        "Can I change the delivery address of my shipment?",
    ),
    (
        "Cancelling a subscription",
        "A subscription cancels at the end of the billing period. Offer the pause option "
        "first; confirm the cancellation by email.",
        "Please cancel my subscription, I do not use it.",
    ),
    (
        "Duplicate charges on a card",
        "A duplicate charge is usually a pending authorisation that disappears in three "
        "working days. If both charges settle, reverse one from the payments screen.",
        "You billed me twice, a duplicate.",
    ),
    (
        "Invoices and receipts",
        "Invoices are available as PDF under Billing, Documents. A VAT receipt with the "
        "company name is issued on request.",
        "Where can I download my invoices?",
    ),
    (
        "Opening hours of the stores",
        "Stores are open Monday to Saturday, 9 to 19, and Sunday 10 to 16. Holiday hours are "
        "on the store locator.",
        "What are your opening hours on Sunday?",
    ),
    (
        "Warranty repairs",
        "Devices are under warranty for two years. A faulty device is repaired or replaced; "
        "book the repair online and print the prepaid shipping label.",
        "The device is faulty, is it covered by warranty?",
    ),
    (
        "Upgrading the plan",
        "An upgrade to the Premium plan applies at once and the difference is prorated. A "
        "downgrade takes effect at renewal.",
        "I would like to upgrade to premium.",
    ),
    (
        "Lost or stolen phone",
        "Block the SIM of a lost or stolen phone at once from the security page, then order a "
        "replacement SIM; the number stays the same.",
        "My mobile was stolen, block the SIM.",
    ),
    (
        "Roaming abroad",
        "Roaming in the EU costs the same as at home. Outside the EU, activate the travel pass "
        "before leaving; data abroad is charged per megabyte otherwise.",
        "Does roaming function abroad?",
    ),
    (
        "Slow internet connection",
        "For a slow internet connection, restart the router, then run the speed test. Below "
        "half the contracted speed, open a technician visit.",
        "My internet is slow, the router disconnects.",
    ),
    (
        "Gift cards",
        "Gift cards are valid for three years and can be combined. A gift card balance is "
        "shown at checkout; expired gift cards cannot be reactivated.",
        "How much is left on my gift voucher?",
    ),
    (
        "Loyalty points",
        "Loyalty points are earned on every purchase, one point per euro, and redeemed at "
        "checkout. Points expire after 24 months without activity.",
        "Why were my loyalty points not added?",
    ),
    (
        "Booking an appointment",
        "Appointments are booked online or by phone, up to four weeks ahead. A reminder is "
        "sent the day before; reschedule from the link in it.",
        "I need an appointment next week.",
    ),
    (
        "Closing an account",
        "To close an account, the balance must be zero. The customer confirms the closure in "
        "writing; personal data is deleted after the legal retention period.",
        "I want to close everything, a closure.",
    ),
    (
        "Student discount",
        "Students get 20 percent off with a valid student ID, verified once a year through "
        "the education portal.",
        "Is there a student discount?",
    ),
    (
        "Missing items in an order",
        "If items are missing from an order, check whether it shipped in several boxes. "
        "Otherwise resend the missing items at no cost.",
        "Items are missing from the box I received.",
    ),
    (
        "Newsletter preferences",
        "Unsubscribe from the newsletter with the link in any mailing, or choose fewer "
        "mailings under Preferences.",
        "Stop the newsletter spam mailings.",
    ),
    (
        "Paying in instalments",
        "Purchases over 200 euros can be paid in instalments: three or six monthly payments, "
        "no interest, subject to a credit check.",
        "Can I spread it into instalments?",
    ),
)
TITLE = re.compile(r"^## (.+)$", re.MULTILINE)
WORD = re.compile(r"\w+")


def check_topics() -> None:
    """Each sentence matches its own article (a whole word: PostgreSQL's ``simple``
    configuration does not stem) and no other (not even as a substring: SQLite's ``LIKE``),
    with few enough terms for the search window."""
    for index, (_, _, said) in enumerate(TOPICS):
        terms = terms_of(said)
        own = set(WORD.findall(" ".join(TOPICS[index][:2]).lower()))
        problems = []
        if not terms or len(terms) * WINDOW_SEGMENTS > MAX_TERMS:
            problems.append(f"{len(terms)} search terms")
        if not own.intersection(terms):
            problems.append("no word of its article")
        for other, (title, body, _) in enumerate(TOPICS):
            hits = [t for t in terms if t in f"{title} {body}".lower()]
            if other != index and hits:
                problems.append(f"{hits} also in {title!r}")
        if problems:
            raise SystemExit(f"topic {index} ({said!r}): {'; '.join(problems)}")


def knowledge_base() -> str:
    return "\n\n".join(f"# {title}\nTags: bench\n{body}" for title, body, _ in TOPICS)


def reply_to(body: Mapping[str, Any]) -> dict[str, str]:
    """The stand-in's answer to ``assist.reply`` (its JSON schema: ``{"reply"}``)."""
    prompt = "\n".join(str(m.get("content") or "") for m in body.get("messages") or ())
    found = TITLE.search(prompt)
    topic = found.group(1).lower() if found else "your question"
    return {"reply": f"I can help you with {topic}: let me check that for you right away."}


@dataclass
class TimedStandIn(OpenAIStandIn):
    """The OpenAI stand-in, stamping how long each chat answer took it (the floor)."""

    answer_ms: list[float] = field(default_factory=list)

    async def chat(self, body: dict[str, Any]) -> Response:
        started = time.perf_counter()
        response = await super().chat(body)
        self.answer_ms.append((time.perf_counter() - started) * 1000)
        return response


@dataclass
class Stamps(transcripts.Stamps):
    suggested: dict[uuid.UUID, float] = field(default_factory=dict)
    """Suggestion id -> its agent_assist.suggestion.created on the stream."""
    progress: asyncio.Event = field(default_factory=asyncio.Event)

    def arrived(self, kind: str, data: dict[str, Any], now: float) -> None:
        if kind == SUGGESTED:
            self.suggested.setdefault(uuid.UUID(data["suggestion_id"]), now)
            self.progress.set()


@dataclass
class Trace:
    """Inside the consumer, per segment id (the instrumented functions' clock reads)."""

    taken: dict[uuid.UUID, float] = field(default_factory=dict)
    """``suggest`` called for the segment's event."""
    asked: dict[uuid.UUID, float] = field(default_factory=dict)
    """The gateway's ``complete`` called."""
    answered: dict[uuid.UUID, float] = field(default_factory=dict)
    """... and returned."""
    stored: dict[uuid.UUID, float] = field(default_factory=dict)
    """``suggest`` returned (the suggestion committed)."""
    suggestion_of: dict[uuid.UUID, uuid.UUID] = field(default_factory=dict)
    """Suggestion id -> segment id."""
    nothing: int = 0
    """``suggest`` calls that made no suggestion."""
    batches: list[int] = field(default_factory=list)
    """Segments per ``on_events`` call."""
    progress: asyncio.Event | None = None
    """Set when a suggestion was made (the run's drain looks again)."""

    def reset(self) -> None:
        for stamps in (self.taken, self.asked, self.answered, self.stored, self.suggestion_of):
            stamps.clear()
        self.nothing = 0
        self.batches.clear()


CURRENT: contextvars.ContextVar[uuid.UUID | None] = contextvars.ContextVar(
    "bench_segment", default=None
)


def instrument(trace: Trace) -> None:
    """Stamp the agent_assist consumer's steps (module globals it looks up at each call)."""
    import plugins.agent_assist.suggest as module

    on_events = module.on_events
    suggest = module.suggest
    complete = ai_complete  # what the module calls by this name

    async def traced_on_events(platform: Platform, events: Sequence[DeliveredEvent]) -> None:
        trace.batches.append(sum(1 for e in events if e.name == TRANSCRIBED))
        await on_events(platform, events)

    async def traced_suggest(platform: Platform, event: DeliveredEvent) -> Any:
        segment = uuid.UUID(str(event.payload["segment_id"]))
        trace.taken[segment] = time.perf_counter()
        token = CURRENT.set(segment)
        try:
            row = await suggest(platform, event)
        finally:
            CURRENT.reset(token)
            trace.stored[segment] = time.perf_counter()
        if row is None:
            trace.nothing += 1
        else:
            trace.suggestion_of[row.id] = segment
        if trace.progress is not None:
            trace.progress.set()
        return row

    async def traced_complete(*args: Any, **kwargs: Any) -> Any:
        segment = CURRENT.get()
        if segment is not None:
            trace.asked[segment] = time.perf_counter()
        try:
            return await complete(*args, **kwargs)
        finally:
            if segment is not None:
                trace.answered[segment] = time.perf_counter()

    module.on_events = traced_on_events
    module.suggest = traced_suggest
    module.complete = traced_complete  # type: ignore[attr-defined]


async def drained(stamps: Stamps, trace: Trace, idle: float) -> None:
    """Until every segment's suggestion arrived, or none arrived for ``idle`` seconds."""
    while len(arrivals(stamps, trace)) < stamps.expected:
        stamps.progress.clear()
        try:
            await asyncio.wait_for(stamps.progress.wait(), idle)
        except TimeoutError:
            return


async def idle_cpu(seconds: float) -> float:
    """This process's CPU share (seconds per second) while nothing is sent: the background
    workers' own cost, left out of the per-segment figure."""
    cpu, wall = time.process_time(), time.perf_counter()
    await asyncio.sleep(seconds)
    return (time.process_time() - cpu) / (time.perf_counter() - wall)


def arrivals(stamps: Stamps, trace: Trace) -> dict[uuid.UUID, float]:
    """Segment id -> its suggestion's arrival on the stream, for this run's segments."""
    found = {}
    for suggestion, at in stamps.suggested.items():
        segment = trace.suggestion_of.get(suggestion)
        if segment in stamps.committed:
            found[segment] = at
    return found


def agents_on(session: AsyncSession, calls: list[Call]) -> None:
    """A simulated agent on each call, as routing leaves one."""
    now = utcnow()
    for n, call in enumerate(calls):
        session.add(
            Agent(
                display_name=f"Agent {n}",
                reach_kind="loopback",
                state=AgentState.ON_CALL.value,
                state_since=now,
                current_call_id=call.id,
            )
        )


async def seed_calls(platform: Platform, tenant_id: uuid.UUID, count: int) -> list[Call]:
    """``count`` live calls, each with a simulated agent on it as routing leaves one."""
    return await transcripts.seed_calls(
        platform, tenant_id, count, direction="inbound", with_calls=agents_on
    )


async def accept(
    platform: Platform, tenant_id: uuid.UUID, call: Call, said: str, stamps: Stamps
) -> None:
    """One customer segment."""
    await transcripts.accept(
        platform,
        tenant_id,
        call,
        stamps,
        speaker="customer",
        text=said,
        confidence=0.95,
        start_seconds=0.0,
    )


def segment_of(calls: list[Call], seq: int) -> tuple[Call, str]:
    """The ``seq``-th segment: the calls in turn, each call's topics in turn from its own."""
    index, turn = seq % len(calls), seq // len(calls)
    return calls[index], TOPICS[(index + turn) % len(TOPICS)][2]


async def segments(
    platform: Platform,
    tenant_id: uuid.UUID,
    connection: websockets.ClientConnection,
    trace: Trace,
    calls: list[Call],
    rate: float,
    total: int,
    drain: float,
) -> tuple[Stamps, float]:
    stamps = Stamps(expected=total)
    trace.progress = stamps.progress
    reader = asyncio.create_task(consume(connection, stamps))

    async def one(seq: int) -> None:
        call, said = segment_of(calls, seq)
        await accept(platform, tenant_id, call, said, stamps)

    reached = await paced(rate, total, one)
    await drained(stamps, trace, drain)
    reader.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await reader
    return stamps, reached


async def configure(client: httpx.AsyncClient, token: str, stand_in: OpenAIStandIn) -> None:
    """What an admin does: the key in the vault, assist.reply routed to OpenAI, the
    knowledge base imported."""
    headers = {"Authorization": f"Bearer {token}"}
    response = await client.put(
        "/api/v1/vault/secrets/openai.api_key",
        json={"value": stand_in.api_key},
        headers=headers,
    )
    response.raise_for_status()
    current = (await client.get("/api/v1/ai/settings", headers=headers)).raise_for_status()
    body = {
        k: v for k, v in current.json().items() if k not in ("currency", "version", "updated_at")
    }
    body["routes"] = {"assist.reply": {"provider": "openai", "model": None}}
    response = await client.put("/api/v1/ai/settings", json=body, headers=headers)
    response.raise_for_status()
    response = await client.post(
        "/api/v1/agent-assist/articles/import",
        json={"format": "markdown", "content": knowledge_base()},
        headers=headers,
    )
    response.raise_for_status()


def figures(label: str, values: list[float]) -> dict[str, float]:
    return transcripts.figures(label, values, width=46)


def breakdown(stamps: Stamps, trace: Trace) -> None:
    """Each stage of a segment's way, p50 and p95, over the segments that completed it."""
    arrival = arrivals(stamps, trace)
    stages = (
        ("commit -> consumer takes it", stamps.committed, trace.taken),
        ("consumer -> model asked (lookups, search)", trace.taken, trace.asked),
        ("model asked -> answered (gateway + model)", trace.asked, trace.answered),
        ("answered -> suggestion committed", trace.answered, trace.stored),
        ("committed -> suggestion on stream", trace.stored, arrival),
    )
    print("  where the time goes (p50 / p95 / max, ms):")
    for label, since, until in stages:
        spans = sorted((until[s] - since[s]) * 1000 for s in until if s in since)
        if spans:
            print(
                f"    {label:46} {percentile(spans, 0.5):8.1f} / {percentile(spans, 0.95):8.1f}"
                f" / {spans[-1]:8.1f}"
            )
    taken = sorted(trace.taken.values())
    if len(taken) > 1:
        busy = max(trace.stored.values()) - taken[0]
        print(
            f"    consumer: {len(trace.taken)} segments in {busy:.1f} s "
            f"({len(trace.taken) / busy:.1f}/s), {len(trace.batches)} batches of "
            f"{sum(trace.batches) / max(1, len(trace.batches)):.1f} segments on average "
            f"(largest {max(trace.batches, default=0)})"
        )


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rate", type=float, default=20.0, help="customer segments per second")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument(
        "--calls",
        type=int,
        default=100,
        help="live calls the segments share, each with an agent on it (raised when a call "
        f"would hear more than {len(TOPICS)} segments: each must bring a new article)",
    )
    parser.add_argument(
        "--model-latency", type=float, default=0.3, help="seconds the stand-in takes"
    )
    parser.add_argument("--warmup", type=float, default=1.0, help="seconds at the rate first")
    parser.add_argument(
        "--drain", type=float, default=15.0, help="seconds without a suggestion before giving up"
    )
    args = parser.parse_args()
    check_topics()
    import plugins.agent_assist.plugin
    import plugins.agents.plugin
    import plugins.ai.plugin
    import plugins.calls.plugin
    import plugins.openai.plugin

    total = max(1, int(args.rate * args.seconds))
    warm_total = int(args.rate * args.warmup)
    calls_count = max(args.calls, math.ceil(total / len(TOPICS)))
    warm_calls = max(1, min(calls_count, math.ceil(warm_total / len(TOPICS))))
    trace = Trace()
    instrument(trace)
    backend = Backend.from_environment()
    await backend.create()
    try:
        async with TimedStandIn(latency=args.model_latency, responder=reply_to) as stand_in:
            os.environ.update(stand_in.environment())  # read when the platform is built
            plugin_list: list[object] = [
                plugins.calls.plugin,
                plugins.agents.plugin,
                plugins.ai.plugin,
                plugins.openai.plugin,
                plugins.agent_assist.plugin,
            ]
            async with serving(
                backend,
                plugin_list,
                jwt_secret=JWT_SECRET,
                password=PASSWORD,
                realtime_buffer_events=max(1000, total * 4),
                configure=lambda client, token: configure(client, token, stand_in),
            ) as live:
                platform, tenant_id, version = live.platform, live.tenant_id, live.version
                async with subscribed(
                    live.base, live.token, [TRANSCRIBED, SUGGESTED]
                ) as connection:
                    if warm_total:  # connections, caches, the SDK, the key, the settings
                        calls = await seed_calls(platform, tenant_id, warm_calls)
                        await segments(
                            platform,
                            tenant_id,
                            connection,
                            trace,
                            calls,
                            args.rate,
                            warm_total,
                            args.drain,
                        )
                    # The measured run: fresh calls (and agents), nothing suggested on them.
                    trace.reset()
                    stand_in.answer_ms.clear()
                    calls = await seed_calls(platform, tenant_id, calls_count)
                    idle = await idle_cpu(IDLE_SECONDS)
                    cpu, wall = time.process_time(), time.perf_counter()
                    stamps, reached = await segments(
                        platform, tenant_id, connection, trace, calls, args.rate, total, args.drain
                    )
                    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    finally:
        await backend.drop()

    model_ms = args.model_latency * 1000
    print(f"suggestion latency: {machine(version)}")
    print(
        f"  {args.rate:g} customer segments/s for {args.seconds:g} s (reached {reached:.1f}/s) "
        f"over {calls_count} calls with an agent on each; {len(TOPICS)} articles; OpenAI "
        f"stand-in answering in {model_ms:.0f} ms"
    )
    bus = stamps.bus_latencies()
    latencies = [
        (at - stamps.committed[segment]) * 1000 for segment, at in arrivals(stamps, trace).items()
    ]
    missing = len(stamps.committed) - len(latencies)
    if not bus or not latencies:
        print("  nothing arrived")
        return 1
    baseline = figures("baseline: commit -> transcribed on stream", bus)
    ours = figures("suggestion: commit -> suggestion.created", latencies)
    if stand_in.answer_ms:
        figures("floor: the stand-in's own answer", stand_in.answer_ms)
    print(
        f"  suggestion / baseline: p50 x{ours['p50'] / baseline['p50']:.1f}, "
        f"p95 x{ours['p95'] / baseline['p95']:.1f}; the platform's own share at p95 "
        f"(p95 - {model_ms:.0f} ms of model): {ours['p95'] - model_ms:.1f} ms"
    )
    breakdown(stamps, trace)
    sqlite = "" if backend.schema else ", SQLite"
    print(
        f"  CPU of this process (platform, client, stand-in{sqlite}) per segment: "
        f"{(cpu - idle * wall) / len(stamps.committed) * 1000:.1f} ms over its idle "
        f"{idle * 100:.1f} % of a core ({cpu / wall * 100:.0f} % during the run)"
    )
    verdict = "PASS" if ours["p95"] < GOAL_P95_MS else "FAIL"
    print(f"  goal: suggestion p95 < {GOAL_P95_MS:g} ms: {verdict}")
    if missing:
        print(
            f"  {missing} of {len(stamps.committed)} segments never got their suggestion "
            f"(the consumer made none for {trace.nothing})"
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
