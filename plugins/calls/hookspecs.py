"""Hooks the calls plugin adds: other plugins extend it through these."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from kernel import hookspec

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from kernel import Platform, Principal
    from plugins.calls.handlers import HandlerSpec
    from plugins.calls.models import Call
    from plugins.calls.provider import PaymentProgress, ProviderSpec


@hookspec
def kraliki_telephony_providers() -> Sequence[ProviderSpec]:  # type: ignore[empty-body]
    """Contribute telephony providers (Twilio, Telnyx, loopback, yours).

    Called once per platform, while ``calls`` configures itself. Return
    :class:`plugins.calls.provider.ProviderSpec` values; the provider's name must be the
    plugin's own name (its webhooks arrive at ``/webhooks/<name>/<tenant id>/<kind>``, mounted
    with ``plugins.calls.webhooks.provider_webhook_router``). Two plugins offering one name
    stop the platform.
    """


@hookspec
def kraliki_call_handlers() -> Sequence[HandlerSpec]:  # type: ignore[empty-body]
    """Contribute call handlers: what drives a call routed to them (the IVR, queues).

    Called once per platform, while ``calls`` configures itself. Return
    :class:`plugins.calls.handlers.HandlerSpec` values; a handler's name is the ``route`` a
    phone number gives to send its calls there. Two plugins offering one name stop the
    platform. See ``plugins.calls.handlers``.
    """


@hookspec
def kraliki_call_links(
    platform: Platform,
    session: AsyncSession,
    principal: Principal,
    calls: Sequence[Call],
) -> Mapping[uuid.UUID, Mapping[str, Any]] | None:
    """Link calls to what your plugin keeps about them (a call's contact); may be async.

    Called once per answer of ``GET /api/v1/calls`` (the page's calls), ``GET`` and
    ``PATCH /api/v1/calls/{id}`` (one call), in the request's tenant scope, with its
    read ``session`` (read only: never commit) and the ``principal`` asking: link only what
    the principal may read. Return, per call id, named JSON values (``{"contact": {"id":
    ..., "name": ..., "href": "/api/v1/contacts/<id>"}}``); they are merged into the call's
    ``links``, a name already given by a plugin earlier in dependency order is kept. Calls
    you have nothing for may be left out. An implementation that raises, or answers
    something else, is logged and left out: it never fails the request.
    """


@hookspec
def kraliki_call_payment_progress(
    platform: Platform, session: AsyncSession, call: Call, progress: PaymentProgress
) -> None:
    """A secure card capture on ``call`` moved on (the payments plugin keeps its session
    and ledger from these); may be async.

    Called once per provider webhook that carries the progress (a redelivered webhook is
    not processed twice), in the call's tenant scope, inside the webhook's transaction and
    under a savepoint: write with ``session`` (never commit) and publish events through it.
    An implementation that raises is logged, its writes (and the other implementations')
    are rolled back, and the webhook is still answered: the call goes on. ``progress``
    carries no card data (a count of digits, a mask)."""
