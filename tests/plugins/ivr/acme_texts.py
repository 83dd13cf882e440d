"""``acme_texts``: a third-party plugin as an integrator would write it from the docs, with
an IVR node type that acts on the platform through an effect.

The node ``acme_texts.text_link`` renders a link and declares a :class:`SendLink` effect;
the effect records the request in the organization's audit log and publishes
``acme_texts.link.requested`` (a subscriber would send the text message). ``refuse: true``
makes the effect fail after writing, to show that what it wrote is rolled back.
Imports only ``kernel`` and ``plugins.ivr`` (their public APIs).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import Field

from kernel import Event, Permission, PluginInfo, hookimpl, record_audit_event
from plugins.ivr import (
    Effect,
    EffectScope,
    Go,
    NodeConfig,
    NodeContext,
    NodeResult,
    NodeType,
    Template,
)

READ = Permission("acme_texts.links", "read", "See text-message link requests.", ("admin",))


class LinkRequested(Event):
    name = "acme_texts.link.requested"
    permission = READ.key
    aggregate = "call_id"
    description = "A flow asked for a link to be texted to the caller."

    call_id: uuid.UUID
    to: str
    link: str


class RefusedError(Exception):
    """The (pretend) texting gateway said no."""


@dataclass(frozen=True, slots=True)
class SendLink(Effect):
    kind = "acme_texts.send_link"

    to: str
    link: str
    refuse: bool = False

    def describe(self) -> Mapping[str, Any]:
        return {"to": self.to, "link": self.link}

    async def perform(self, scope: EffectScope) -> Mapping[str, Any] | None:
        record_audit_event(
            scope.session,
            None,
            "acme_texts.link.requested",
            target_type="call",
            target_id=scope.call_id,
            details={"link": self.link, "node": scope.node, "ivr_session": str(scope.session_id)},
            actor_label="ivr",
        )
        await scope.publish(LinkRequested(call_id=scope.call_id, to=self.to, link=self.link))
        if self.refuse:
            raise RefusedError("the texting gateway refused the number")
        return {"queued": True}


class TextLinkConfig(NodeConfig):
    type: Literal["acme_texts.text_link"] = "acme_texts.text_link"
    link: Template = Field(min_length=8, max_length=500)
    refuse: bool = False


class TextLinkNode(NodeType):
    name = "acme_texts.text_link"
    config = TextLinkConfig
    description = "Text the caller a link, tell them so, go on."

    async def enter(self, ctx: NodeContext, config: TextLinkConfig) -> NodeResult:
        link = ctx.render(config.link)
        ctx.act(SendLink(to=ctx.call.caller, link=link, refuse=config.refuse))
        said = ctx.say("We are sending you a link by text message.")
        return Go("next", prompts=[said], detail={"link": link})


@hookimpl
def kraliki_plugin_info() -> PluginInfo:
    return PluginInfo(name="acme_texts", version="1.0.0", requires=("ivr",))


@hookimpl
def kraliki_permissions() -> Sequence[Permission]:
    return [READ]


@hookimpl
def kraliki_event_types() -> Sequence[type[Event]]:
    return [LinkRequested]


@hookimpl
def kraliki_ivr_node_types() -> Sequence[object]:
    return [TextLinkNode()]
