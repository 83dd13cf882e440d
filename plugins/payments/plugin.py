"""payments: a payments ledger (payments, refunds, append-only entries) and taking payments
through the organization's processor, contributed by processor plugins through
``kraliki_payment_processors``. Hook implementations only; see ``docs/plugins/payments.md``."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter

from kernel import (
    Event,
    JobTopic,
    MigrationSource,
    Permission,
    Platform,
    PluginInfo,
    __version__,
    hookimpl,
)

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from plugins.calls import Call, PaymentProgress


@hookimpl
def kraliki_plugin_info() -> PluginInfo:
    return PluginInfo(
        name="payments",
        version=__version__,
        description="Payments over the phone: a PCI-safe ledger of payments and refunds, "
        "taken through the organization's processor with tokens only.",
    )


@hookimpl
def kraliki_add_hookspecs() -> ModuleType:
    from plugins.payments import hookspecs

    return hookspecs


@hookimpl
def kraliki_configure(platform: Platform) -> None:
    from plugins.payments.registry import configure

    configure(platform)


@hookimpl
def kraliki_permissions() -> Sequence[Permission]:
    from plugins.payments.permissions import PERMISSIONS

    return PERMISSIONS


@hookimpl
def kraliki_models() -> Sequence[type]:
    from plugins.payments.models import MODELS

    return MODELS


@hookimpl
def kraliki_migrations() -> MigrationSource:
    return MigrationSource(Path(__file__).parent / "migrations" / "versions")


@hookimpl
def kraliki_event_types() -> Sequence[type[Event]]:
    from plugins.payments.events import EVENT_TYPES

    return EVENT_TYPES


@hookimpl
def kraliki_routes() -> Sequence[APIRouter]:
    from plugins.payments import captures_api, page, reconciliations_api
    from plugins.payments.api import router

    # Fixed paths first: /reconciliations, /captures and /page must not be taken for an id.
    return [reconciliations_api.router, captures_api.router, page.router, router]


@hookimpl(optionalhook=True)  # only when the ivr plugin is installed too
def kraliki_ivr_node_types() -> Sequence[object]:
    from plugins.payments.ivr_node import PayNode

    return [PayNode()]


@hookimpl(optionalhook=True)  # a calls hook (calls is installed with every provider)
async def kraliki_call_payment_progress(
    platform: Platform, session: AsyncSession, call: Call, progress: PaymentProgress
) -> None:
    from plugins.payments.assisted import apply_progress

    await apply_progress(platform, session, call, progress)


@hookimpl(optionalhook=True)  # only when the agents plugin is installed too
def kraliki_agent_page_panels() -> Sequence[Any]:
    from plugins.agents import AgentPagePanel

    return [
        AgentPagePanel(
            "payments",
            "Payment",
            "payments/page/capture-panel.js",
            patterns=("payments.capture.*",),
        )
    ]


@hookimpl
def kraliki_jobs() -> Sequence[JobTopic]:
    from plugins.payments.reconcile import TOPIC, reconcile_job

    return [
        JobTopic(
            TOPIC,
            reconcile_job,
            "Reconcile the ledger with the processor: the runs asked for through the API, "
            "and daily (01:00 UTC) the UTC day before while the organization has a processor.",
        )
    ]
