"""The simulation the queue figures are checked against: a small discrete-event model of
one queue, in pure Python (no platform), that says what happened to every caller.

Callers arrive on a schedule, wait in line (first come, first served) and talk for a set
time once an agent answers, or hang up after their patience. Agents take the next caller
longest-idle first. An agent may let their first offer ring out: they go away (missed) and
the caller is offered to the next agent at once. A caller who finds the line full
overflows. Every event is a :class:`Step` with what it changed and the figures right
after it, computed by hand with the formulas of ``docs/plugins/queues.md`` ("Live figures
and their formulas"): the test plays the steps on the platform and compares.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field
from typing import Literal

Action = Literal["arrive", "abandon", "hang_up", "back"]
AGENT_STATES = ("offline", "available", "reserved", "on_call", "wrap_up", "away")


@dataclass(frozen=True)
class Caller:
    name: str
    arrives: float
    """Simulated seconds since the start."""
    talks: float
    """How long the conversation lasts once an agent answers."""
    patience: float | None = None
    """Hangs up after waiting this long (None: waits for an agent)."""


@dataclass
class Outcome:
    """What happened to a caller: ``status`` as the queue names it (``waiting``,
    ``connected``, ``completed``, ``abandoned``, ``overflowed``), the wait, the agent."""

    status: str = "not yet arrived"
    wait: float | None = None
    agent: str | None = None
    offers: int = 0
    short: bool = False
    """An abandon under the short-abandon limit."""


@dataclass
class Step:
    """One event, what it caused and the figures right after it."""

    at: float
    action: Action
    subject: str
    line: list[str]
    """Who was in line just before, first first."""
    answered: list[str] = field(default_factory=list)
    ended: list[str] = field(default_factory=list)
    """Callers whose wait ended without an answer (abandoned, overflowed)."""
    missed: list[tuple[str, str]] = field(default_factory=list)
    """(caller, agent) offers that rang out."""
    figures: dict[str, object] = field(default_factory=dict)


@dataclass
class Queue:
    service_level_seconds: float
    short_abandon_seconds: float
    max_size: int


class Simulation:
    """``Simulation(queue, callers, agents, ...).run(until=...)``: ``steps`` and
    ``outcomes`` by caller name. ``agents`` are listed longest idle first."""

    def __init__(
        self,
        queue: Queue,
        callers: list[Caller],
        agents: list[str],
        *,
        misses_first_offer: str,
        back_at: float,
    ) -> None:
        self.queue = queue
        self.callers = {c.name: c for c in callers}
        self.outcomes = {c.name: Outcome() for c in callers}
        self.agents = {a: "available" for a in agents}
        self.idle_since = {a: float(i - len(agents)) for i, a in enumerate(agents)}
        self.misses = {misses_first_offer}
        self.line: list[str] = []
        self.steps: list[Step] = []
        self._events: list[tuple[float, int, Action, str]] = []
        self._count = 0
        for caller in callers:
            self._at(caller.arrives, "arrive", caller.name)
        self._at(back_at, "back", misses_first_offer)

    def _at(self, at: float, action: Action, subject: str) -> None:
        self._count += 1
        heapq.heappush(self._events, (at, self._count, action, subject))

    def run(self, *, until: float) -> Simulation:
        while self._events and self._events[0][0] <= until:
            at, _, action, subject = heapq.heappop(self._events)
            step = Step(at, action, subject, list(self.line))
            if action == "arrive":
                self._arrive(step, subject)
            elif action == "abandon":
                if subject not in self.line:
                    continue  # answered before their patience ran out
                self.line.remove(subject)
                self._end(step, subject, "abandoned", at - self.callers[subject].arrives)
            elif action == "hang_up":
                agent = self.outcomes[subject].agent
                assert agent is not None
                self.outcomes[subject].status = "completed"
                self.agents[agent], self.idle_since[agent] = "available", at
            else:
                assert self.agents[subject] == "away", f"{subject} came back before missing"
                self.agents[subject], self.idle_since[subject] = "available", at
            self._route(step)
            step.figures = self.figures()
            self.steps.append(step)
        return self

    def _arrive(self, step: Step, name: str) -> None:
        if len(self.line) >= self.queue.max_size:
            self._end(step, name, "overflowed", 0.0)
            return
        self.line.append(name)
        self.outcomes[name].status = "waiting"
        patience = self.callers[name].patience
        if patience is not None:
            self._at(step.at + patience, "abandon", name)

    def _end(self, step: Step, name: str, status: str, wait: float) -> None:
        outcome = self.outcomes[name]
        outcome.status, outcome.wait = status, wait
        outcome.short = status == "abandoned" and wait < self.queue.short_abandon_seconds
        step.ended.append(name)

    def _route(self, step: Step) -> None:
        """Offer the line, head first, to the longest idle available agent."""
        while self.line:
            free = [a for a, state in self.agents.items() if state == "available"]
            if not free:
                return
            agent = min(free, key=lambda a: self.idle_since[a])
            name = self.line[0]
            outcome = self.outcomes[name]
            outcome.offers += 1
            if agent in self.misses:
                self.misses.discard(agent)
                self.agents[agent] = "away"
                step.missed.append((name, agent))
                continue
            self.line.pop(0)
            outcome.status, outcome.agent = "connected", agent
            outcome.wait = step.at - self.callers[name].arrives
            self.agents[agent] = "on_call"
            step.answered.append(name)
            self._at(step.at + self.callers[name].talks, "hang_up", name)

    def figures(self) -> dict[str, object]:
        """The queue's live counts and today's figures, by the documented formulas."""
        outcomes = list(self.outcomes.values())
        answered = [o for o in outcomes if o.status in ("connected", "completed")]
        abandoned = [o for o in outcomes if o.status == "abandoned" and not o.short]
        short = [o for o in outcomes if o.status == "abandoned" and o.short]
        overflowed = [o for o in outcomes if o.status == "overflowed"]
        within = [o for o in answered if (o.wait or 0.0) <= self.queue.service_level_seconds]
        agents = dict.fromkeys(AGENT_STATES, 0)
        for state in self.agents.values():
            agents[state] += 1
        return {
            "waiting": len(self.line),
            "connected": sum(1 for o in outcomes if o.status == "connected"),
            "agents": agents,
            # Short abandons are no offered calls; overflowed and abandoned ones are.
            "offered": len(answered) + len(abandoned) + len(overflowed),
            "answered": len(answered),
            "answered_within_threshold": len(within),
            "abandoned": len(abandoned),
            "short_abandoned": len(short),
            "overflowed": len(overflowed),
        }
