"""The quality bar's simulation: a queue's day played on the real platform with loopback
callers and loopback agents, and the figures the plugin reports (``GET
/queues/{id}/live``, ``GET /queues/live``, the calls' history and the
``queues.queue.stats`` events a wallboard follows) compared with what the simulation
(``simulation.py``) knows happened.

The day: one queue (service level 20 s, at most 4 in line, short abandons under 5 s), three
agents (Cyril longest idle, then Ana, then Ben), 24 callers. Cyril lets the first call ring
out (missed, away; it is re-offered to Ana at once) and is back at 100 s; the line fills
while two agents talk, so callers are answered after the threshold, two overflow, one hangs
up after 1 s (a short abandon), others after 9 s (within the threshold: it still lowers the
service level), 30 s and 50 s. At the end three callers are talking and three waiting.

Everything goes through the platform's front doors: a caller is a loopback call placed
with an IVR flow whose ``queues.enqueue`` node puts it in line; agents are loopback agents
(their phones answer, or ring out); a caller hangs up through ``POST
/calls/{id}/hangup`` (the loopback callee cannot be told from outside when to hang up);
Cyril's return is a profile change and a supervisor's ``PUT /agents/{id}/state``.

**Time.** The simulation counts simulated seconds, the platform its real clock. Before each
event the script ages ``entered_at`` of every caller in line to "now minus their simulated
wait so far" (as the caller tests' ``age_item`` does), then plays the event and waits
until the platform shows the simulated figures. A wait the platform measures is therefore
the simulated one plus the real time the event took to play out, which the script
measures (from the aging to the moment it saw the outcome): every wait must lie in
``[simulated, simulated + measured]``, and the average speed of answer and oldest wait in
the matching interval (plus 0.05 for their rounding to one decimal). Counts, service
level and abandon rate are exact: no simulated wait is near the threshold or the
short-abandon limit, and the script checks that the measured time cannot have crossed
either.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from simulation import Caller, Queue, Simulation, Step
from sqlalchemy import update

from kernel import tenant_scope, utcnow
from plugins.loopback.testing import LoopbackCalls, loopback_calls  # noqa: F401 (a fixture)
from plugins.queues import QueueItem

QUEUE = Queue(service_level_seconds=20, short_abandon_seconds=5, max_size=4)
AGENTS = ["Cyril", "Ana", "Ben"]
"""Longest idle first."""
MISSES = "Cyril"
BACK_AT = 100
UNTIL = 270
CALLERS = [
    Caller("c01", 0, 70),
    Caller("c02", 6, 120),
    Caller("c03", 15, 50, patience=1),
    Caller("c04", 22, 45),
    Caller("c05", 30, 80, patience=50),
    Caller("c06", 41, 40),
    Caller("c07", 47, 65, patience=9),
    Caller("c08", 53, 30),
    Caller("c09", 58, 55),
    Caller("c10", 64, 35),
    Caller("c11", 96, 60),
    Caller("c12", 111, 50),
    Caller("c13", 131, 25, patience=30),
    Caller("c14", 147, 70),
    Caller("c15", 163, 35),
    Caller("c16", 181, 40),
    Caller("c17", 197, 45),
    Caller("c18", 217, 30),
    Caller("c19", 236, 50),
    Caller("c20", 247, 40),
    Caller("c21", 253, 35),
    Caller("c22", 258, 30),
    Caller("c23", 262, 30),
    Caller("c24", 268, 30),
]
MARGIN = 3.0
"""No simulated wait is this close (below) to the threshold or the short-abandon limit."""

ANSWERS = [{"step": "answer"}]
"""An agent's phone (or a caller): answers at once, stays on the line until hung up."""
RINGS_OUT = [{"step": "no_answer"}]
COUNTS = (
    "offered",
    "answered",
    "answered_within_threshold",
    "abandoned",
    "short_abandoned",
    "overflowed",
)


@pytest.fixture(autouse=True)
def short_abandons(monkeypatch: pytest.MonkeyPatch) -> None:
    """The operator's setting, read when the app is built (autouse: before the app)."""
    monkeypatch.setenv("KRALIKI_QUEUES_SHORT_ABANDON_SECONDS", str(QUEUE.short_abandon_seconds))


def zone_at_noon(now: datetime) -> str:
    """A time zone where it is about noon now: aging callers by minutes never moves their
    entry to another day, whenever the test runs."""
    offset = (12 - now.hour) % 24
    offset = offset - 24 if offset > 14 else offset
    if offset == 0:
        return "UTC"
    return f"Etc/GMT{'-' if offset > 0 else '+'}{abs(offset)}"  # POSIX signs are reversed


def service_level(figures: dict[str, Any]) -> float | None:
    offered = int(figures["offered"])
    return round(100 * int(figures["answered_within_threshold"]) / offered, 1) if offered else None


def percent(part: int, whole: int) -> float | None:
    return round(100 * part / whole, 1) if whole else None


class Wallboard:
    """Follows ``queues.queue.stats`` on the real-time stream (SSE), as a wallboard does."""

    def __init__(self, http: httpx.AsyncClient) -> None:
        self.http = http
        self.stats: list[dict[str, Any]] = []
        self.ready = asyncio.Event()
        self.task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Subscribe; returns once the stream is ready (events from now on are seen)."""
        self.task = asyncio.create_task(self.follow())
        ready = asyncio.create_task(self.ready.wait())
        await asyncio.wait({self.task, ready}, timeout=10, return_when=asyncio.FIRST_COMPLETED)
        ready.cancel()
        self.check()
        assert self.ready.is_set(), "the real-time stream never said it was ready"

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task

    def check(self) -> None:
        """Raise what ended the stream, if it ended."""
        if self.task is not None and self.task.done():
            self.task.result()
            raise AssertionError("the real-time stream ended")

    async def follow(self) -> None:
        params = {"events": "queues.queue.stats"}
        timeout = httpx.Timeout(30, read=None)  # a quiet stream is no failure
        async with self.http.stream(
            "GET", "/api/v1/realtime/sse", params=params, timeout=timeout
        ) as response:
            assert response.status_code == 200
            name = ""
            async for line in response.aiter_lines():
                if line.startswith("event: "):
                    name = line.removeprefix("event: ")
                elif line.startswith("data: ") and name == "ready":
                    self.ready.set()
                elif line.startswith("data: ") and name == "queues.queue.stats":
                    self.stats.append(json.loads(line.removeprefix("data: "))["data"])

    async def shows(self, expected: dict[str, Any], *, within: float = 10.0) -> None:
        """Wait until the latest stats event carries ``expected``."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        while loop.time() < deadline:
            if self.stats and self.latest(expected) == expected:
                return
            self.check()
            await asyncio.sleep(0.01)
        got = self.latest(expected) if self.stats else None
        raise AssertionError(f"the last queues.queue.stats shows {got}, not {expected}")

    def latest(self, like: dict[str, Any]) -> dict[str, Any]:
        return {key: self.stats[-1][key] for key in like}


class Player:
    """Plays the simulation's steps on the platform and keeps, for every caller whose wait
    ended, the interval the platform's wait must lie in."""

    def __init__(self, calls: LoopbackCalls, http: httpx.AsyncClient, sim: Simulation) -> None:
        self.calls = calls
        self.http = http
        self.sim = sim
        self.call_ids: dict[str, str] = {}
        self.agent_ids: dict[str, str] = {}
        self.bounds: dict[str, tuple[float, float]] = {}
        self.queue_id = ""
        self.flow_id = ""
        self.zone = zone_at_noon(utcnow())

    async def ok(self, method: str, url: str, status: int = 200, **kwargs: Any) -> Any:
        response = await self.http.request(method, url, **kwargs)
        assert response.status_code == status, f"{method} {url}: {response.text}"
        return response.json() if response.content else None

    async def set_up(self) -> None:
        await self.ok(
            "PUT",
            "/api/v1/calls/settings",
            json={"max_concurrent_calls": 100, "calls_per_second": {"loopback": 500}},
        )
        await self.ok("PATCH", "/api/v1/tenant", json={"timezone": self.zone})
        for name in AGENTS:
            script = RINGS_OUT if name == MISSES else ANSWERS
            body = {"display_name": name, "reach": {"kind": "loopback", "loopback_script": script}}
            self.agent_ids[name] = (await self.ok("POST", "/api/v1/agents", 201, json=body))["id"]
        queue = await self.ok(
            "POST",
            "/api/v1/queues",
            201,
            json={
                "name": "Support",
                "service_level_seconds": QUEUE.service_level_seconds,
                "max_size": QUEUE.max_size,
                "wrap_up_seconds": 0,
                "offer_timeout_seconds": 5,
                "announce_every_seconds": 3600,  # no hold turn comes back during the test
                "agent_ids": [self.agent_ids[name] for name in AGENTS],
            },
        )
        self.queue_id = queue["id"]
        flow = {
            "start": "support",
            "nodes": {
                "support": {
                    "type": "queues.enqueue",
                    "queue_id": self.queue_id,
                    "exits": {"overflow": "busy"},
                },
                "busy": {"type": "hangup", "message": "All our agents are busy. Goodbye."},
            },
        }
        created = await self.ok(
            "POST", "/api/v1/ivr/flows", 201, json={"name": "Desk", "draft": flow}
        )
        self.flow_id = created["id"]
        await self.ok("POST", f"/api/v1/ivr/flows/{self.flow_id}/publish", 201, json={})
        for name in AGENTS:  # in this order: Cyril is the longest idle
            await self.available(name)

    async def available(self, agent: str) -> None:
        await self.ok(
            "PUT",
            f"/api/v1/agents/{self.agent_ids[agent]}/state",
            json={"state": "available", "reason": "simulation"},
        )

    async def age(self, at: float, line: list[str]) -> datetime:
        """Set the entry of everyone in line to what the simulated clock says at ``at``;
        returns the platform time the ages are relative to."""
        now = utcnow()
        with tenant_scope(self.calls.tenant_id):
            async with self.calls.platform.database.session() as session:
                for name in line:
                    waited = at - self.sim.callers[name].arrives
                    await session.execute(
                        update(QueueItem)
                        .where(
                            QueueItem.call_id == uuid.UUID(self.call_ids[name]),
                            QueueItem.status.in_(("waiting", "offered")),
                        )
                        .values(entered_at=now - timedelta(seconds=waited))
                    )
                await session.commit()
        return now

    async def play(self, step: Step, wallboard: Wallboard) -> dict[str, Any]:
        """Play ``step``; returns once the wallboard's last event and the live route show
        the figures the simulation has after it."""
        started = await self.age(step.at, step.line)
        if step.action == "arrive":
            body = {
                "to": "+14155550123",
                "from": "+14155550100",
                "flow_id": self.flow_id,
                "options": {"script": ANSWERS},
            }
            self.call_ids[step.subject] = (await self.ok("POST", "/api/v1/calls", 201, json=body))[
                "id"
            ]
        elif step.action == "hang_up":
            await self.bridged(step.subject)
            await self.hang_up(step.subject)
        elif step.action == "abandon":
            await self.hang_up(step.subject)
        else:  # back at the desk, with a phone that answers
            agent = self.agent_ids[step.subject]
            reach = {"kind": "loopback", "loopback_script": ANSWERS}
            await self.ok("PATCH", f"/api/v1/agents/{agent}", json={"reach": reach})
            await self.available(step.subject)
        await wallboard.shows(self.board(step.figures))
        live = await self.settle(step)
        took = (utcnow() - started).total_seconds()
        for name in [*step.answered, *step.ended]:
            wait = self.sim.outcomes[name].wait
            assert wait is not None
            self.bounds[name] = (wait, wait + took)
        return live

    def board(self, figures: dict[str, Any]) -> dict[str, Any]:
        """What the ``queues.queue.stats`` event says of ``figures``."""
        return {
            "queue_id": self.queue_id,
            "waiting": figures["waiting"],
            "offered_today": figures["offered"],
            "answered_today": figures["answered"],
            "abandoned_today": figures["abandoned"],
            "service_level_today": service_level(figures),
        }

    async def hang_up(self, caller: str) -> None:
        await self.ok("POST", f"/api/v1/calls/{self.call_ids[caller]}/hangup")

    async def bridged(self, caller: str, *, within: float = 10.0) -> None:
        """Wait until routing brought the caller into the agent's conference."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        while loop.time() < deadline:
            detail = await self.ok("GET", f"/api/v1/calls/{self.call_ids[caller]}")
            if any(
                entry["kind"] == "redirected" and entry["detail"].get("steps") == ["conference"]
                for entry in detail["timeline"]
            ):
                return
            await asyncio.sleep(0.02)
        raise AssertionError(f"{caller} was never bridged to their agent")

    async def live(self) -> dict[str, Any]:
        live: dict[str, Any] = await self.ok("GET", f"/api/v1/queues/{self.queue_id}/live")
        return live

    async def settle(self, step: Step, *, within: float = 15.0) -> dict[str, Any]:
        """Wait until the platform shows the figures the simulation has after ``step``."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        while True:
            live = await self.live()
            shown = {
                "waiting": live["waiting"],
                "connected": live["connected"],
                "agents": live["agents"],
                **{key: live["today"][key] for key in COUNTS},
            }
            if shown == step.figures:
                return live
            if loop.time() > deadline:
                raise AssertionError(
                    f"after {step.action} {step.subject} at {step.at:g} s the platform shows "
                    f"{shown}, the simulation {step.figures}"
                )
            await asyncio.sleep(0.05)


def check_the_schedule(sim: Simulation) -> None:
    """The day exercises what it claims, and no wait sits near a limit."""
    times = [step.at for step in sim.steps]
    assert len(times) == len(set(times)), "two events at one time: their order is ambiguous"
    outcomes = sim.outcomes.values()
    statuses = [o.status for o in outcomes]
    assert statuses.count("overflowed") == 2
    assert sum(1 for o in outcomes if o.short) == 1
    assert statuses.count("waiting") == 3
    assert statuses.count("connected") == 3
    assert [s.missed for s in sim.steps if s.missed] == [[("c01", MISSES)]]
    threshold, short = QUEUE.service_level_seconds, QUEUE.short_abandon_seconds
    for name, o in sim.outcomes.items():
        if o.status in ("connected", "completed"):
            assert not threshold - MARGIN < (o.wait or 0.0) <= threshold, name
        if o.status == "abandoned":
            assert not short - MARGIN <= (o.wait or 0.0) < short, name


async def test_the_figures_match_what_happened(loopback_calls: LoopbackCalls) -> None:  # noqa: F811
    calls = loopback_calls
    sim = Simulation(QUEUE, CALLERS, AGENTS, misses_first_offer=MISSES, back_at=BACK_AT).run(
        until=UNTIL
    )
    check_the_schedule(sim)
    async with httpx.AsyncClient(base_url=calls.url, headers=calls.headers, timeout=30) as http:
        player = Player(calls, http, sim)
        await player.set_up()
        wallboard = Wallboard(http)
        try:
            await wallboard.start()
            for step in sim.steps:
                await player.play(step, wallboard)
            await check_the_end(player, sim, wallboard)
        finally:
            await wallboard.stop()


async def check_the_end(player: Player, sim: Simulation, wallboard: Wallboard) -> None:
    """The day's figures, the line, every caller's story and the wallboard's last event."""
    final = sim.figures()
    # By hand: 15 answered (7 within 20 s), 3 abandoned (c05, c07, c13; c03 was short),
    # 2 overflowed (c08, c10): 20 offered; 345 s of answered waits.
    assert {key: final[key] for key in COUNTS} == {
        "offered": 20,
        "answered": 15,
        "answered_within_threshold": 7,
        "abandoned": 3,
        "short_abandoned": 1,
        "overflowed": 2,
    }
    answered = [n for n, o in sim.outcomes.items() if o.status in ("connected", "completed")]
    assert sum(sim.outcomes[n].wait or 0.0 for n in answered) == 345

    started = await player.age(UNTIL, sim.line)
    live = await player.live()
    took = (utcnow() - started).total_seconds()
    today = live["today"]
    assert today["time_zone"] == player.zone
    assert {key: today[key] for key in COUNTS} == {key: final[key] for key in COUNTS}
    assert today["service_level"] == service_level(final) == 35.0
    assert today["abandon_rate"] == percent(3, 20) == 15.0
    # ASA: each answered wait lies in its interval; their mean too (and 0.05 of rounding).
    lowest = sum(player.bounds[n][0] for n in answered) / len(answered)
    highest = sum(player.bounds[n][1] for n in answered) / len(answered)
    assert lowest == 23.0
    assert lowest - 0.05 <= today["asa_seconds"] <= highest + 0.05, (lowest, highest)

    # The line at the end of the day: c22, c23, c24, in order, with their waits.
    assert sim.line == ["c22", "c23", "c24"]
    assert live["waiting"] == 3
    assert [c["call_id"] for c in live["calls"]] == [player.call_ids[n] for n in sim.line]
    assert [c["position"] for c in live["calls"]] == [1, 2, 3]
    for shown, name in zip(live["calls"], sim.line, strict=True):
        waited = UNTIL - sim.callers[name].arrives
        assert waited - 0.05 <= shown["wait_seconds"] <= waited + took + 0.05, name
    oldest = UNTIL - sim.callers["c22"].arrives
    assert oldest - 0.05 <= live["oldest_wait_seconds"] <= oldest + took + 0.05

    # The wallboard's route: the same figures.
    [row] = [r for r in await player.ok("GET", "/api/v1/queues/live")]
    assert (row["queue_id"], row["waiting"], row["connected"]) == (player.queue_id, 3, 3)
    assert (row["offered_today"], row["answered_today"], row["abandoned_today"]) == (20, 15, 3)
    assert (row["service_level_today"], row["service_level_target"]) == (35.0, 80)

    # Every caller's story in the queue's history: outcome, agent, offers, wait.
    history = await player.ok(
        "GET", f"/api/v1/queues/{player.queue_id}/calls", params={"limit": 100}
    )
    items = {item["call_id"]: item for item in history["items"]}
    assert len(items) == len(CALLERS)
    for name, outcome in sim.outcomes.items():
        item = items[player.call_ids[name]]
        agent = player.agent_ids[outcome.agent] if outcome.agent else None
        story = (item["status"], item["agent_id"], item["offers"])
        assert story == (outcome.status, agent, outcome.offers), name
        if name in player.bounds:
            low, high = player.bounds[name]
            assert low <= item["wait_seconds"] <= high, (name, item["wait_seconds"], low, high)
    check_no_wait_crossed_a_limit(player, sim)

    # The last queues.queue.stats event says what the live route says.
    await wallboard.shows(
        {
            "queue_id": player.queue_id,
            "waiting": live["waiting"],
            "agents": live["agents"],
            "offered_today": today["offered"],
            "answered_today": today["answered"],
            "abandoned_today": today["abandoned"],
            "service_level_today": today["service_level"],
        }
    )


def check_no_wait_crossed_a_limit(player: Player, sim: Simulation) -> None:
    """What the script classified (within the threshold or not, short or not) cannot have
    come out otherwise in the time the events took to play out."""
    threshold, short = QUEUE.service_level_seconds, QUEUE.short_abandon_seconds
    for name, (low, high) in player.bounds.items():
        outcome = sim.outcomes[name]
        if outcome.status in ("connected", "completed"):
            assert high <= threshold or low > threshold, (name, low, high)
        elif outcome.status == "abandoned":
            assert high < short or low >= short, (name, low, high)
