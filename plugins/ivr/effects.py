"""Effects: how a node acts on the platform (records an opt-out, queues the caller, takes a
payment) while its own logic stays pure.

A node never touches the database or the event bus itself. It *declares* what should happen
with ``ctx.act(effect)``; the runtime performs the effects of a real call after the node
returned, inside the call's transaction, each under its own savepoint: an effect that raises
changes nothing it wrote, is logged and shows on the call's timeline (``ivr.effect``,
``outcome`` ``failed``), and the call goes on. The simulator and saved tests list the
effects a flow would perform (``effects`` in a simulation) and perform none, so a node needs
no ``if ctx.simulated`` branch and tests never write.

Rules for effect authors:
- ``perform`` uses ``scope.session`` (the organization's, in the call's transaction) and
  never commits or rolls it back; the webhook's transaction commits everything together.
- Do outside work (an SMS, an HTTP call) from a subscriber of an event the effect
  publishes with ``scope.publish``, not in ``perform``: the caller is waiting, and the
  event is only delivered if the call's transaction commits.
- ``describe()`` and what ``perform`` returns go to the timeline and the simulator: no
  secrets, no personal data beyond what the call's timeline already shows.
"""

from __future__ import annotations

import abc
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from sqlalchemy.ext.asyncio import AsyncSession

from kernel import Event, EventBus, Platform

EFFECT_KIND_PATTERN = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$")
"""``<plugin>.<what>``, lower case: ``contacts.opt_out``, ``acme_texts.send_link``."""


@dataclass(frozen=True, slots=True)
class EffectScope:
    """What an effect acts with: the platform, the organization's database session inside
    the call's transaction, and which call, flow session and node it acts for."""

    platform: Platform
    session: AsyncSession
    tenant_id: uuid.UUID
    call_id: uuid.UUID
    session_id: uuid.UUID
    """The call's IVR session (``ivr_sessions.id``)."""
    flow_id: uuid.UUID
    flow_version: int
    node: str
    """The id of the node that declared the effect."""

    @property
    def events(self) -> EventBus:
        return self.platform.events

    async def publish(self, event: Event) -> None:
        """Publish ``event`` in the call's transaction (delivered only if it commits)."""
        await self.platform.events.publish(self.session, event)


class Effect(abc.ABC):
    """Something a node asks the runtime to do on the platform; declared with
    :meth:`~plugins.ivr.NodeContext.act`. An effect is a small immutable value (a frozen
    dataclass is a good fit) holding what ``perform`` needs, already rendered."""

    kind: ClassVar[str]
    """What the effect does, ``<plugin>.<what>`` (``contacts.opt_out``)."""

    def describe(self) -> Mapping[str, Any]:
        """What the effect would do, for the timeline and the simulator (no secrets)."""
        return {}

    @abc.abstractmethod
    async def perform(self, scope: EffectScope) -> Mapping[str, Any] | None:
        """Do it, in ``scope.session``. What it returns joins the timeline entry (an id it
        created, a count); raising rolls back what it wrote and is recorded as failed."""


def check_effect(effect: object) -> None:
    """Refuse what is not an effect, or one whose ``kind`` is not ``<plugin>.<what>``."""
    if not isinstance(effect, Effect):
        raise TypeError(f"ctx.act() takes an Effect, not {type(effect).__name__}")
    kind = getattr(effect, "kind", None)
    if not isinstance(kind, str) or not EFFECT_KIND_PATTERN.fullmatch(kind):
        raise ValueError(f"effect kind {kind!r} is not <plugin>.<what> in lower case")


@dataclass(frozen=True, slots=True)
class DeclaredEffect:
    """An effect a node declared, with where in the flow it was declared."""

    node: str
    node_type: str
    depth: int
    effect: Effect

    def summary(self) -> dict[str, Any]:
        """The effect as the simulator lists it."""
        return {
            "node": self.node,
            "node_type": self.node_type,
            "depth": self.depth,
            "kind": self.effect.kind,
            "detail": dict(self.effect.describe()),
        }
