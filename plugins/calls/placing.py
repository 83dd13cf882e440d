"""Placing an outbound call: limits, the provider hand-over, failover.

The call row is committed (queued) before the provider is asked, so a crash in between
leaves a visible call rather than a ghost, and the provider's first webhooks (which can beat
its REST answer) find the call by the id their URL carries.
"""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from kernel import (
    CircuitOpenError,
    DependencyError,
    Platform,
    ProblemError,
    RejectedError,
    current_tenant_id,
    utcnow,
)
from plugins.calls import events, service
from plugins.calls.models import Call, CallSettingsRow, PhoneNumber
from plugins.calls.phone import check_destination
from plugins.calls.problems import (
    CONCURRENCY_LIMIT,
    INVALID_NUMBER,
    PROVIDER_NOT_CONFIGURED,
    PROVIDER_REFUSED,
    PROVIDER_UNAVAILABLE,
    RATE_LIMITED,
)
from plugins.calls.provider import (
    CallProgress,
    CallStatus,
    Direction,
    MachineDetection,
    PlaceCall,
    PlacedCall,
    ProviderRefused,
    Say,
)
from plugins.calls.registry import build_provider, calls_state, missing_secrets, require_provider
from plugins.calls.routing import dump_instructions


@dataclass(frozen=True)
class CallRequest:
    """An outbound call as asked for: ``to_number`` in E.164 form or a SIP URI
    (``sip:user@host[:port]``: an agent's softphone), ``from_number`` in E.164 form."""

    to_number: str
    from_number: str | None = None
    provider: str | None = None
    instructions: list[Any] = field(default_factory=list)
    record: bool = False
    machine_detection: bool = False
    """Synchronous detection where the provider has it (``PlaceCall.machine_detection``)."""
    detection: MachineDetection = MachineDetection.OFF
    """Asynchronous detection: connected at once, the verdict later
    (``calls.call.machine_detected``)."""
    timeout_seconds: int = 30
    tags: list[str] = field(default_factory=list)
    metadata: dict[str, Any] = field(default_factory=dict)
    options: dict[str, Any] = field(default_factory=dict)
    placed_by: str | None = None
    handler: str | None = None
    """The plugin that drives the call once answered (``plugins.calls.handlers``)."""
    handler_target: str | None = None


async def place_call(platform: Platform, session: AsyncSession, request: CallRequest) -> Call:
    """Admit, hand over (failing over if the primary's circuit is open), and return the call.

    ``session`` is the tenant's; it is committed (the queued call before the provider is
    asked, then the outcome). Raises problems: 422 unknown provider, a destination that is
    neither E.164 nor a SIP URI, or refused number, 409 provider not configured, 429
    concurrency or pacing limit, 503 provider unavailable (the call is then failed).
    """
    check_destination(request.to_number, field="to")
    settings = await service.call_settings(session)
    provider = request.provider or settings.primary_provider or _default_provider(platform)
    await _check_provider(platform, session, provider)
    from_number = request.from_number or await _caller_id(session, provider)
    call = await _admit(platform, session, request, settings, provider, from_number)
    await session.commit()
    secondary = settings.secondary_provider if request.provider is None else None
    return await _hand_over(platform, session, call, request, secondary)


def _default_provider(platform: Platform) -> str:
    return calls_state(platform).settings.default_provider


async def _check_provider(platform: Platform, session: AsyncSession, name: str) -> None:
    require_provider(platform, name)
    missing = await missing_secrets(platform, session, name)
    if missing:
        raise ProblemError(
            PROVIDER_NOT_CONFIGURED,
            f"store {', '.join(missing)} in the vault before placing calls with {name}",
            missing=missing,
        )


async def _caller_id(session: AsyncSession, provider: str) -> str:
    number = await session.scalar(
        select(PhoneNumber.number)
        .where(PhoneNumber.provider == provider)
        .order_by(PhoneNumber.created_at)
        .limit(1)
    )
    if number is None:
        raise ProblemError(
            INVALID_NUMBER,
            f"from: give a caller id; the organization has no {provider} number to use",
            field="from",
        )
    return str(number)


async def _admit(
    platform: Platform,
    session: AsyncSession,
    request: CallRequest,
    settings: CallSettingsRow,
    provider: str,
    from_number: str,
) -> Call:
    """Check the limits and insert the queued call, holding the tenant's placing lock so two
    requests cannot both take the last slot."""
    await _placing_lock(session)
    active = await service.active_calls(platform, session)
    if active >= settings.max_concurrent_calls:
        raise ProblemError(
            CONCURRENCY_LIMIT,
            f"{active} calls are active; the limit is {settings.max_concurrent_calls}",
            limit=settings.max_concurrent_calls,
        )
    rate = _calls_per_second(platform, settings, provider)
    window = max(1.0, 1.0 / rate)
    now = utcnow()
    recent = int(
        await session.scalar(
            select(func.count())
            .select_from(Call)
            .where(Call.provider == provider, Call.placed_at > now - timedelta(seconds=window))
        )
        or 0
    )
    if recent >= max(1, math.floor(rate * window)):
        raise ProblemError(
            RATE_LIMITED,
            f"{provider} takes {rate:g} new calls per second for this organization",
            headers={"Retry-After": str(math.ceil(window))},
            calls_per_second=rate,
        )
    instructions = list(request.instructions)
    if request.record and settings.recording_consent_message:
        instructions.insert(0, Say(text=settings.recording_consent_message))
    call = Call(
        direction=Direction.OUTBOUND.value,
        from_number=from_number,
        to_number=request.to_number,
        provider=provider,
        status=CallStatus.QUEUED.value,
        placed_at=now,
        tags=list(request.tags),
        attributes=dict(request.metadata),
        instructions=dump_instructions(instructions),
        notes="",
        placed_by=request.placed_by,
        handler=request.handler,
        handler_target=request.handler_target,
    )
    session.add(call)
    await session.flush()
    service.traced(call)
    service.note(session, call, "created", source="api", provider=provider, actor=request.placed_by)
    await service.publish(platform, session, events.CallCreated, call)
    await service.schedule_upkeep(platform, session)
    return call


async def _placing_lock(session: AsyncSession) -> None:
    """Serialize admissions per tenant across workers (PostgreSQL; SQLite has one writer)."""
    bind = session.get_bind()
    if bind.dialect.name != "postgresql":
        return
    tenant = str(current_tenant_id())
    await session.execute(
        text("SELECT pg_advisory_xact_lock(:key)"),
        {"key": zlib.crc32(f"calls.place:{tenant}".encode())},
    )


def _calls_per_second(platform: Platform, settings: CallSettingsRow, provider: str) -> float:
    configured = (settings.calls_per_second or {}).get(provider)
    if configured:
        return float(configured)
    return calls_state(platform).providers.get(provider).default_calls_per_second


async def _hand_over(
    platform: Platform,
    session: AsyncSession,
    call: Call,
    request: CallRequest,
    secondary: str | None,
) -> Call:
    attempt_provider = call.provider
    while True:
        try:
            placed = await _place_with(platform, call, attempt_provider, request)
        except CircuitOpenError:
            if (
                secondary is None
                or secondary == attempt_provider
                or not await _usable(platform, session, secondary)
            ):
                await _fail(platform, session, call, "provider-unavailable")
                raise ProblemError(
                    PROVIDER_UNAVAILABLE, f"{attempt_provider}'s circuit is open"
                ) from None
            call = await _fail_over(platform, session, call, attempt_provider, secondary)
            attempt_provider, secondary = secondary, None
            continue
        except (ProviderRefused, RejectedError) as exc:
            detail = exc.detail if isinstance(exc, ProviderRefused) else str(exc)
            code = exc.code if isinstance(exc, ProviderRefused) else None
            await _fail(platform, session, call, "provider-refused", detail=detail)
            raise ProblemError(PROVIDER_REFUSED, detail, provider_code=code) from None
        except DependencyError:
            await _fail(platform, session, call, "provider-unavailable")
            raise ProblemError(PROVIDER_UNAVAILABLE, f"{attempt_provider} did not answer") from None
        return await _placed(platform, session, call, placed)


async def _place_with(
    platform: Platform, call: Call, provider_name: str, request: CallRequest
) -> PlacedCall:
    provider = build_provider(platform, call.tenant_id, provider_name, call_id=call.id)
    return await provider.place_call(
        PlaceCall(
            call_id=call.id,
            from_number=call.from_number,
            to_number=call.to_number,
            timeout_seconds=request.timeout_seconds,
            record=request.record,
            machine_detection=request.machine_detection,
            options=request.options,
            detection=request.detection,
        )
    )


async def _usable(platform: Platform, session: AsyncSession, provider: str) -> bool:
    try:
        await _check_provider(platform, session, provider)
    except ProblemError:
        return False
    return True


async def _fail_over(
    platform: Platform, session: AsyncSession, call: Call, primary: str, secondary: str
) -> Call:
    call = await service.get_call(session, call.id, for_update=True)
    call.provider = secondary
    service.note(
        session,
        call,
        "failed-over",
        source="platform",
        from_provider=primary,
        to_provider=secondary,
        reason="circuit-open",
    )
    await service.publish(
        platform,
        session,
        events.CallFailedOver,
        call,
        from_provider=primary,
        reason="circuit-open",
    )
    await session.commit()
    return call


async def _placed(
    platform: Platform, session: AsyncSession, call: Call, placed: PlacedCall
) -> Call:
    call = await service.get_call(session, call.id, for_update=True)
    if call.provider_call_id is None:
        call.provider_call_id = placed.provider_call_id
    if call.status == CallStatus.QUEUED.value:
        progress = CallProgress(provider_call_id=placed.provider_call_id, status=placed.status)
        await service.apply_progress(platform, session, call, progress, source="platform")
    await session.commit()
    return call


async def _fail(
    platform: Platform,
    session: AsyncSession,
    call: Call,
    cause: str,
    *,
    detail: str | None = None,
) -> None:
    call = await service.get_call(session, call.id, for_update=True)
    if detail:
        service.note(session, call, "provider-error", source="platform", detail=detail[:300])
    progress = CallProgress(
        provider_call_id=call.provider_call_id or "", status=CallStatus.FAILED, hangup_cause=cause
    )
    await service.apply_progress(platform, session, call, progress, source="platform")
    await session.commit()
