"""``/api/v1/calls/providers`` and ``/api/v1/calls/settings``: which providers exist, which
the organization uses, its limits, recording retention and consent message."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request

from kernel import (
    PlatformDep,
    Principal,
    SessionDep,
    record_audit_event,
    require,
)
from plugins.calls import service
from plugins.calls.models import CallSettingsRow
from plugins.calls.registry import calls_state, missing_secrets, require_provider
from plugins.calls.schemas import CallSettingsBody, CallSettingsOut, ProviderOut

router = APIRouter()

SettingsReader = Annotated[Principal, Depends(require("calls.settings", "read"))]
SettingsWriter = Annotated[Principal, Depends(require("calls.settings", "write"))]


@router.get("/providers", response_model=list[ProviderOut], summary="List the telephony providers")
async def list_providers(
    _principal: SettingsReader, session: SessionDep, platform: PlatformDep
) -> list[ProviderOut]:
    out = []
    for name, _plugin, spec in calls_state(platform).providers.items():
        configured = not await missing_secrets(platform, session, name)
        out.append(
            ProviderOut(
                name=name,
                description=spec.description,
                capabilities=sorted(c.value for c in spec.capabilities),
                secrets=list(spec.secrets),
                configured=configured,
                default_calls_per_second=spec.default_calls_per_second,
            )
        )
    return out


def _settings_out(platform: PlatformDep, row: CallSettingsRow) -> CallSettingsOut:
    return CallSettingsOut(
        primary_provider=row.primary_provider,
        secondary_provider=row.secondary_provider,
        max_concurrent_calls=row.max_concurrent_calls,
        calls_per_second=dict(row.calls_per_second or {}),
        recording_retention_days=row.recording_retention_days,
        recording_consent_message=row.recording_consent_message,
        effective_primary_provider=row.primary_provider
        or calls_state(platform).settings.default_provider,
    )


@router.get("/settings", response_model=CallSettingsOut, summary="Get the call settings")
async def get_settings(
    _principal: SettingsReader, session: SessionDep, platform: PlatformDep
) -> CallSettingsOut:
    return _settings_out(platform, await service.call_settings(session))


@router.put("/settings", response_model=CallSettingsOut, summary="Replace the call settings")
async def put_settings(
    body: CallSettingsBody,
    request: Request,
    principal: SettingsWriter,
    session: SessionDep,
    platform: PlatformDep,
) -> CallSettingsOut:
    for name in (body.primary_provider, body.secondary_provider, *body.calls_per_second):
        if name is not None:
            require_provider(platform, name)
    row = await service.call_settings(session)
    if row not in session:
        session.add(row)
    for field, value in body.model_dump().items():
        setattr(row, field, value)
    record_audit_event(
        session,
        principal,
        "calls.settings.changed",
        request=request,
        target_type="calls_settings",
        target_id=None,
        details=body.model_dump(exclude={"recording_consent_message"}),
    )
    if row.recording_retention_days:
        await platform.jobs.wake(session, "calls.retention")
    await session.commit()
    return _settings_out(platform, row)
