"""Test helpers for the calls plugin and for provider authors.

``fakeline_plugin()`` builds a minimal in-process provider plugin (no carrier, no network):
it records what the platform asks of it, can be told to fail, and accepts JSON webhooks
signed with HMAC-SHA256 of the tenant's ``<name>.signing_key`` secret. Tests drive calls with
:func:`fakeline_webhook`. Real providers' wire formats are covered by the twilio, telnyx and
loopback plugins' own doubles.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import types
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import httpx

from kernel import (
    Platform,
    PluginInfo,
    SecretSpec,
    StateKey,
    __version__,
    hookimpl,
    tenant_scope,
    utcnow,
)
from plugins.calls.provider import (
    AnsweredBy,
    CallProgress,
    CallRef,
    CallStatus,
    Capability,
    ControlCall,
    Direction,
    InstructionList,
    InstructionsNeeded,
    NormalizedEvent,
    ParsedWebhook,
    PlaceCall,
    PlacedCall,
    ProviderSpec,
    RecordingAudio,
    RecordingProgress,
    RecordingRef,
    SuperviseMember,
    TelephonyProvider,
    TranscriptSegment,
    WebhookAnswer,
    WebhookMalformed,
    WebhookRejected,
    WebhookRequest,
)
from plugins.calls.registry import calls_state

if TYPE_CHECKING:
    import pytest
    from fastapi import FastAPI

SIGNATURE_HEADER = "x-fakeline-signature"


@dataclass
class FakelineLog:
    """What a fakeline provider was asked, per platform (under a ``StateKey`` of its name)."""

    placed: list[PlaceCall] = field(default_factory=list)
    controls: list[ControlCall] = field(default_factory=list)
    executed: list[tuple[CallRef, list[Any]]] = field(default_factory=list)
    redirected: list[tuple[CallRef, list[Any]]] = field(default_factory=list)
    supervised: list[SuperviseMember] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    fail_next: list[BaseException] = field(default_factory=list)
    """Exceptions raised, one per call, before doing anything (first in, first raised)."""
    states: dict[str, CallProgress | BaseException | None] = field(default_factory=dict)
    """What ``call_state`` answers per provider call id (an exception is raised); a call
    not listed is as the platform has it."""
    asked: list[CallRef] = field(default_factory=list)
    """The calls ``call_state`` was asked about."""
    on_place: Callable[[PlaceCall, str], Awaitable[None]] | None = None
    """Run with the request and the new provider call id before ``place_call`` answers
    (a provider whose first webhook beats its REST answer)."""

    def maybe_fail(self) -> None:
        if self.fail_next:
            raise self.fail_next.pop(0)


def sign(secret: str, body: bytes) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


class FakelineProvider(TelephonyProvider):
    """A provider that reaches no network: see the module docstring."""

    def _log(self) -> FakelineLog:
        log = StateKey[FakelineLog](self.context.provider).get(self.context.platform)
        return log

    async def place_call(self, request: PlaceCall) -> PlacedCall:
        async def attempt() -> PlacedCall:
            log = self._log()
            log.maybe_fail()
            log.placed.append(request)
            placed = PlacedCall(provider_call_id=f"TL{uuid.uuid4().hex}")
            if log.on_place is not None:
                await log.on_place(request, placed.provider_call_id)
            return placed

        return await self.context.call(attempt, attempts=1)

    async def control(self, request: ControlCall) -> None:
        async def attempt() -> None:
            self._log().maybe_fail()
            self._log().controls.append(request)

        await self.context.call(attempt, attempts=1)

    async def call_state(self, call: CallRef) -> CallProgress | None:
        async def attempt() -> CallProgress | None:
            log = self._log()
            log.maybe_fail()
            log.asked.append(call)
            key = call.provider_call_id or ""
            if key not in log.states:
                return CallProgress(provider_call_id=key, status=call.status)
            state = log.states[key]
            if isinstance(state, BaseException):
                raise state
            return state

        return await self.context.call(attempt, attempts=1)

    async def verify_webhook(self, webhook: WebhookRequest) -> None:
        secret = await self.context.secret(
            f"{self.context.provider}.signing_key", purpose="verify a webhook"
        )
        given = webhook.headers.get(SIGNATURE_HEADER, "")
        if secret is None or not hmac.compare_digest(given, sign(secret.reveal(), webhook.body)):
            raise WebhookRejected("bad signature")

    def parse_webhook(self, webhook: WebhookRequest) -> ParsedWebhook:
        try:
            data = json.loads(webhook.body)
            events = [_event(item) for item in data["events"]]
            return ParsedWebhook(dedupe_key=str(data["id"]), events=events, payload=data)
        except (ValueError, KeyError, TypeError) as exc:
            raise WebhookMalformed(f"not a fakeline webhook: {exc}") from None

    async def execute(self, call: CallRef, instructions: Sequence[Any]) -> WebhookAnswer:
        async def attempt() -> None:
            self._log().maybe_fail()

        await self.context.call(attempt, attempts=1)
        self._log().executed.append((call, list(instructions)))
        body = InstructionList(steps=list(instructions)).model_dump_json().encode()
        return WebhookAnswer(body=body, content_type="application/json")

    async def redirect(self, call: CallRef, instructions: Sequence[Any]) -> None:
        async def attempt() -> None:
            self._log().maybe_fail()

        await self.context.call(attempt, attempts=1)
        self._log().redirected.append((call, list(instructions)))

    async def supervise(self, request: SuperviseMember) -> None:
        async def attempt() -> None:
            self._log().maybe_fail()

        await self.context.call(attempt, attempts=1)
        self._log().supervised.append(request)

    async def recording_audio(self, recording: RecordingRef) -> RecordingAudio:
        async def chunks() -> AsyncIterator[bytes]:
            yield b"RIFF"
            yield (recording.media_ref or "").encode()

        return RecordingAudio(content_type="audio/wav", chunks=chunks())

    async def delete_recording(self, recording: RecordingRef) -> None:
        self._log().deleted.append(recording.provider_recording_id)


def _event(item: dict[str, Any]) -> NormalizedEvent:
    kind = item["type"]
    call = str(item["call"])
    if kind == "progress":
        return CallProgress(
            provider_call_id=call,
            status=CallStatus(item["status"]),
            sequence=item.get("sequence"),
            direction=Direction(item["direction"]) if "direction" in item else None,
            from_number=item.get("from"),
            to_number=item.get("to"),
            answered_by=AnsweredBy(item["answered_by"]) if "answered_by" in item else None,
            hangup_cause=item.get("hangup_cause"),
            duration_seconds=item.get("duration"),
        )
    if kind == "needs":
        return InstructionsNeeded(
            provider_call_id=call,
            reason=item["reason"],
            digits=item.get("digits"),
            speech=item.get("speech"),
            dial_status=CallStatus(item["dial_status"]) if "dial_status" in item else None,
            direction=Direction(item["direction"]) if "direction" in item else None,
            from_number=item.get("from"),
            to_number=item.get("to"),
        )
    if kind == "recording":
        return RecordingProgress(
            provider_call_id=call,
            provider_recording_id=item["recording"],
            status=item["status"],
            duration_seconds=item.get("duration"),
            media_ref=item.get("media"),
        )
    if kind == "transcript":
        return TranscriptSegment(
            provider_call_id=call,
            text=item["text"],
            speaker=item.get("speaker", "unknown"),
            confidence=item.get("confidence"),
        )
    raise ValueError(f"unknown event type {kind!r}")


def fakeline_plugin(
    name: str = "fakeline",
    capabilities: frozenset[Capability] = frozenset(Capability),
    calls_per_second: float = 100.0,
) -> types.SimpleNamespace:
    """A provider plugin object to pass to ``kraliki_make_app(plugins=[...])``."""
    from plugins.calls.webhooks import provider_webhook_router

    info = PluginInfo(name=name, version=__version__, requires=("calls",))
    secret = SecretSpec(f"{name}.signing_key", "Signs the test provider's webhooks.")
    spec = ProviderSpec(
        name=name,
        factory=FakelineProvider,
        capabilities=capabilities,
        secrets=(secret.name,),
        description="In-process test provider.",
        default_calls_per_second=calls_per_second,
    )

    def configure(platform: Platform) -> None:
        StateKey[FakelineLog](name).set(platform, FakelineLog())

    plugin = types.SimpleNamespace(
        kraliki_plugin_info=hookimpl(lambda: info),
        kraliki_telephony_providers=hookimpl(lambda: [spec]),
        kraliki_vault_secrets=hookimpl(lambda: [secret]),
        kraliki_webhook_routes=hookimpl(lambda: [provider_webhook_router(name)]),
        kraliki_configure=hookimpl(configure),
    )
    plugin.__name__ = name
    return plugin


def fakeline_log(platform: Platform, name: str = "fakeline") -> FakelineLog:
    return StateKey[FakelineLog](name).get(platform)


async def fakeline_webhook(
    client: httpx.AsyncClient,
    tenant_id: uuid.UUID,
    secret: str,
    events: list[dict[str, Any]],
    *,
    kind: str = "status",
    delivery_id: str | None = None,
    name: str = "fakeline",
    call_id: uuid.UUID | None = None,
    signature: str | None = None,
) -> httpx.Response:
    """POST a signed fakeline webhook the way a provider would."""
    body = json.dumps({"id": delivery_id or uuid.uuid4().hex, "events": events}).encode()
    url = f"/webhooks/{name}/{tenant_id}/{kind}" + (f"?call={call_id}" if call_id else "")
    return await client.post(
        url,
        content=body,
        headers={
            "content-type": "application/json",
            SIGNATURE_HEADER: signature if signature is not None else sign(secret, body),
        },
    )


async def call_events(
    platform: Platform, tenant_id: uuid.UUID, call_id: uuid.UUID | str
) -> list[tuple[str, dict[str, Any]]]:
    """The events published about one call, in order: ``(name, payload)`` pairs."""
    from kernel.testing import published_events  # pytest's world: only tests call this

    return [
        (name, payload)
        for name, payload in await published_events(platform, tenant_id)
        if payload.get("call_id") == str(call_id)
    ]


async def age_calls(
    platform: Platform, tenant_id: uuid.UUID, seconds: float, *, call_id: uuid.UUID | None = None
) -> None:
    """Make the tenant's unended calls (or one) unheard of for ``seconds``, as when the
    process that carried them died that long ago (``plugins.calls.stale``)."""
    from sqlalchemy import update

    from plugins.calls.models import Call
    from plugins.calls.status import ACTIVE_STATUSES

    query = update(Call).where(Call.status.in_(ACTIVE_STATUSES))
    if call_id is not None:
        query = query.where(Call.id == call_id)
    with tenant_scope(tenant_id):
        async with platform.database.session() as session:
            await session.execute(
                query.values(heard_at=utcnow() - timedelta(seconds=seconds)).execution_options(
                    synchronize_session=False
                )
            )
            await session.commit()


async def run_reconciliation(platform: Platform, tenant_id: uuid.UUID) -> None:
    """Make the tenant's ``calls.reconcile`` job due and run the due jobs once, as a job
    worker would (for apps built without background workers)."""
    with tenant_scope(tenant_id):
        async with platform.database.session() as session:
            await platform.jobs.wake(session, "calls.reconcile")
            await session.commit()
    await platform.jobs.run_due(platform)


def use_public_base_url(platform: Platform, url: str) -> None:
    """Point the webhook URLs given to providers at ``url`` (a server a test started)."""
    state = calls_state(platform)
    state.settings = state.settings.model_copy(update={"public_base_url": url})


@contextlib.asynccontextmanager
async def served_platform(
    make_app: Callable[..., Awaitable[FastAPI]],
    monkeypatch: pytest.MonkeyPatch,
    environment: Mapping[str, str],
    **options: Any,
) -> AsyncIterator[FastAPI]:
    """A platform that a provider (or its double) can call back: built by ``make_app`` (the
    ``kraliki_make_app`` fixture, with ``options``) under ``environment`` (a double's
    ``environment()``: where its REST API is), served on loopback, its webhook URLs pointing
    there; the URL is also ``app.state.public_url``."""
    from kernel.testing import serve_app

    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    app = await make_app(**options)
    async with serve_app(app) as url:
        use_public_base_url(app.state.platform, url)
        app.state.public_url = url
        yield app


async def store_secrets(
    platform: Platform, tenant_id: uuid.UUID, secrets: Mapping[str, str]
) -> None:
    """Store a provider's account in the tenant's vault (name -> value), as its
    administrator does through the vault's API."""
    with tenant_scope(tenant_id):
        async with platform.database.session() as session:
            for name, value in secrets.items():
                await platform.vault.put(session, name, value, actor="test")
            await session.commit()


async def use_provider(
    platform: Platform,
    tenant_id: uuid.UUID,
    provider: str,
    secrets: Mapping[str, str],
    **call_settings: Any,
) -> None:
    """Have the organization call through ``provider``: its account's ``secrets`` in the
    vault, ``provider`` the primary one, and ``call_settings`` (``max_concurrent_calls=10``,
    ...) as ``PUT /api/v1/calls/settings`` would set them."""
    await store_secrets(platform, tenant_id, secrets)
    await set_call_settings(platform, tenant_id, primary_provider=provider, **call_settings)


async def set_call_settings(platform: Platform, tenant_id: uuid.UUID, **values: Any) -> None:
    """Give the tenant call settings (``primary_provider="fakeline"``,
    ``max_concurrent_calls=10``, ...) as ``PUT /api/v1/calls/settings`` would, for tests that
    set up a tenant without an admin's token; later calls change only the values given."""
    from sqlalchemy import select

    from plugins.calls.models import CallSettingsRow

    with tenant_scope(tenant_id):
        async with platform.database.session() as session:
            row = await session.scalar(select(CallSettingsRow))
            if row is None:
                row = CallSettingsRow()
                session.add(row)
            for name, value in values.items():
                if not hasattr(CallSettingsRow, name):
                    raise TypeError(f"calls settings have no {name!r}")
                setattr(row, name, value)
            await session.commit()


# The shape of a provider plugin (docs/providers.md; kept in its own module).
from plugins.calls.provider_shape import PROVIDER_SHAPE as PROVIDER_SHAPE  # noqa: E402
from plugins.calls.provider_shape import (  # noqa: E402
    provider_shape_problems as provider_shape_problems,
)
