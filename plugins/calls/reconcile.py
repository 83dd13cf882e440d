"""Reconciliation: no call stays unended because the platform stopped hearing of it.

A call in flight when the process that carried it died (a loopback call), or whose
provider's final webhook went missing, stays ``ringing`` or ``in-progress`` here. The job
``calls.reconcile`` (woken when a call is created, at start-up, and then when the tenant's
next call goes stale) asks the provider of each stale call where it is
(:meth:`TelephonyProvider.call_state`) and applies the answer through the status machine:

* a final status: the call ends with it (``reason: reconciled``);
* a status further along: the call moves on;
* the same status, or "alive, cannot say more": the call is heard of again;
* :class:`CallLost`: the call fails, its code as the reason (``carrier-lost``...);
* no answer (timeout, circuit open): nothing changes; asked again later.

A queued call never handed to a provider (the process died while placing it) fails as
``placing-interrupted``. The provider is asked outside any transaction; the answer is
applied under the call's row lock, so a webhook arriving meanwhile is not undone.
"""

from __future__ import annotations

import enum
import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kernel import CircuitOpenError, DependencyError, Platform, Tenant, tenant_scope, utcnow
from plugins.calls import service
from plugins.calls.ending import lost, settle
from plugins.calls.models import Call
from plugins.calls.provider import (
    CallLost,
    CallProgress,
    CallStatus,
    ProviderRefused,
    UnsupportedAction,
)
from plugins.calls.registry import build_provider, calls_state
from plugins.calls.stale import is_stale, next_stale_at
from plugins.calls.status import ACTIVE_STATUSES, Verdict, judge

logger = logging.getLogger(__name__)

BATCH = 100
"""Stale calls looked at per run (the oldest first); a full batch runs again at once."""
RECONCILED = "reconciled"
PLACING_INTERRUPTED = "placing-interrupted"


class Outcome(enum.StrEnum):
    """What checking one call did."""

    ENDED = "ended"
    MOVED = "moved"
    HEARD = "heard"
    """The provider still has it as it is here: heard of again."""
    UNCHANGED = "unchanged"
    """Nothing could be learnt (the provider cannot say, or the call ended meanwhile)."""


@dataclass
class Report:
    """What one run did."""

    checked: int = 0
    ended: int = 0
    moved: int = 0
    unreachable: int = 0
    """Calls left as they were: their provider did not answer (asked again later)."""
    unsettled: int = 0
    """Calls still stale after the run: unreachable, or their provider could not say."""

    def summary(self) -> str:
        return (
            f"{self.checked} calls checked, {self.ended} ended, {self.moved} moved on, "
            f"{self.unreachable} left for later"
        )


async def reconcile_job(platform: Platform, tenant_id: uuid.UUID) -> datetime | None:
    """The ``calls.reconcile`` job: settle the tenant's stale calls; next run when its next
    call goes stale (None: no call is unended)."""
    settings = calls_state(platform).settings
    report, full = await reconcile(platform)
    now = utcnow()
    async with platform.database.session() as session:
        due = await next_stale_at(session, settings)
    if due is None or due > now:
        return due
    if full and not report.unsettled:
        return now  # more stale calls than one batch, and this one settled: go on
    return now + timedelta(seconds=settings.reconcile_retry_seconds)


async def reconcile(platform: Platform, *, everything: bool = False) -> tuple[Report, bool]:
    """Check the tenant's stale calls (``everything``: every unended call, for operators),
    oldest first, at most :data:`BATCH`; returns the report and whether the batch was full."""
    settings = calls_state(platform).settings
    async with platform.database.session() as session:
        query = select(Call.id, Call.provider).order_by(Call.heard_at).limit(BATCH)
        if everything:
            query = query.where(Call.status.in_(ACTIVE_STATUSES))
        else:
            query = query.where(is_stale(settings, utcnow()))
        candidates = list(await session.execute(query))
    report = Report()
    unreachable: set[str] = set()  # not asked again in this run
    for call_id, provider in candidates:
        if provider in unreachable:
            report.unreachable += 1
            report.unsettled += 1
            continue
        try:
            outcome = await check_call(platform, call_id)
        except (DependencyError, CircuitOpenError) as exc:
            logger.info("reconciling call %s: %s did not answer: %s", call_id, provider, exc)
            unreachable.add(provider)
            report.unreachable += 1
            report.unsettled += 1
            continue
        report.checked += 1
        if outcome is Outcome.ENDED:
            report.ended += 1
        elif outcome is Outcome.MOVED:
            report.moved += 1
        elif outcome is Outcome.UNCHANGED:
            report.unsettled += 1
    return report, len(candidates) >= BATCH


async def check_call(platform: Platform, call_id: uuid.UUID) -> Outcome:
    """Ask the call's provider where the call is and apply the answer (see the module).

    Raises :class:`DependencyError` (and :class:`CircuitOpenError`) when the provider did
    not answer; the call is then left as it is.
    """
    async with platform.database.session() as session:
        call = await service.get_call(session, call_id)
        if CallStatus(call.status).terminal:
            return Outcome.UNCHANGED
        if call.provider_call_id is None:
            return await _never_placed(platform, session, call)
        ref = service.call_ref(call)
        tenant_id, provider_name = call.tenant_id, call.provider
        await session.commit()  # no transaction (or lock) is held while the provider answers
    if provider_name not in calls_state(platform).providers:
        logger.warning("call %s: its provider %s is not installed", call_id, provider_name)
        return Outcome.UNCHANGED
    provider = build_provider(platform, tenant_id, provider_name, call_id=call_id)
    reason = RECONCILED
    try:
        progress = await provider.call_state(ref)
    except CallLost as exc:
        reason = exc.code or "call-lost"
        progress = CallProgress(ref.provider_call_id or "", CallStatus.FAILED, hangup_cause=reason)
    except (UnsupportedAction, ProviderRefused) as exc:
        logger.warning("call %s: %s cannot say where it is: %s", call_id, provider_name, exc)
        return Outcome.UNCHANGED
    return await _apply(platform, call_id, progress, reason)


async def _apply(
    platform: Platform, call_id: uuid.UUID, progress: CallProgress | None, reason: str
) -> Outcome:
    async with platform.database.session() as session:
        call = await service.get_call(session, call_id, for_update=True)
        current = CallStatus(call.status)
        if current.terminal:  # a webhook ended it while the provider was asked
            return Outcome.UNCHANGED
        if progress is None or judge(current, progress.status) is not Verdict.ADVANCE:
            service.heard(call)  # alive, as it is here (or further along here than there)
            await session.commit()
            return Outcome.HEARD
        final = progress.status.terminal
        await settle(
            platform, session, call, progress, source="platform", reason=reason if final else None
        )
        await session.commit()
        return Outcome.ENDED if final else Outcome.MOVED


async def _never_placed(platform: Platform, session: AsyncSession, call: Call) -> Outcome:
    """A queued call whose provider never answered "placed" (the process died meanwhile):
    no provider can be asked about it without its id, and it will not be placed now."""
    call = await service.get_call(session, call.id, for_update=True)
    settings = calls_state(platform).settings
    stale_since = utcnow() - settings.stale_after(call.status)
    if call.provider_call_id is not None or call.heard_at > stale_since:
        return Outcome.UNCHANGED  # a placing request is still at it
    await settle(
        platform,
        session,
        call,
        lost(call, PLACING_INTERRUPTED),
        source="platform",
        reason=PLACING_INTERRUPTED,
    )
    await session.commit()
    return Outcome.ENDED


async def wake_everywhere(platform: Platform) -> int:
    """Wake reconciliation now for every tenant with an unended call (start-up: calls a
    dead process left behind are settled without waiting for their next wake-up).
    Returns how many tenants were woken."""
    async with platform.database.session() as session:
        tenants = list(await session.scalars(select(Tenant.id).order_by(Tenant.created_at)))
    woken = 0
    for tenant_id in tenants:
        with tenant_scope(tenant_id):
            async with platform.database.session() as session:
                unended = await session.scalar(
                    select(Call.id).where(Call.status.in_(ACTIVE_STATUSES)).limit(1)
                )
                if unended is None:
                    continue
                await platform.jobs.wake(session, "calls.reconcile")
                await session.commit()
                woken += 1
    return woken
