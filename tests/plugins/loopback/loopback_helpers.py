"""A stand-in for the platform's provider webhook route (until ``calls`` has one): a small
FastAPI app served on loopback that drives the loopback provider through the contract as
``calls`` will (verify, parse, de-duplicate, answer with ``execute``) and records it all."""

from __future__ import annotations

import uuid
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI, Request, Response

from kernel import Platform, tenant_scope
from plugins.calls import (
    CallRef,
    CallStatus,
    Direction,
    InstructionsNeeded,
    NormalizedEvent,
    PlaceCall,
    WebhookRejected,
    WebhookRequest,
    build_provider,
)
from plugins.loopback.provider import LoopbackProvider

Answer = bytes | Sequence[Any] | Callable[[InstructionsNeeded], Sequence[Any]]
"""Instructions for a voice/gather/dial webhook, a function of its event giving them, or a
raw answer body (nonsense the carrier must survive)."""


@dataclass
class Received:
    kind: str
    tenant_id: uuid.UUID
    headers: dict[str, str]
    body: dict[str, Any]
    query: dict[str, str]
    events: Sequence[NormalizedEvent]
    duplicate: bool = False

    @property
    def event(self) -> NormalizedEvent:
        [event] = self.events
        return event


@dataclass
class Receiver:
    platform: Platform
    received: list[Received] = field(default_factory=list)
    """Verified deliveries, duplicates included (``duplicate`` set)."""
    rejected: list[str] = field(default_factory=list)
    """Why deliveries were refused (403)."""
    answers: deque[Answer] = field(default_factory=deque)
    """Instructions for the next voice/gather/dial webhooks, in order; then ``default``."""
    default: Answer = ()
    fail: deque[int] = field(default_factory=deque)
    """Status codes to answer the next deliveries with, before looking at them."""
    refuse: dict[str, int] = field(default_factory=dict)
    """Kinds answered with this status code every time."""
    attempts: list[tuple[str, str]] = field(default_factory=list)
    """(kind, event id) of every request, failed ones included."""
    url: str = ""

    def answer(self, *answers: Answer) -> None:
        self.answers.extend(answers)

    def of(self, kind: str) -> list[Received]:
        return [r for r in self.received if r.kind == kind and not r.duplicate]

    def bodies(self, kind: str) -> list[dict[str, Any]]:
        return [r.body for r in self.of(kind)]

    def statuses(self, call_id: str | None = None) -> list[str]:
        return [
            r.body["status"]
            for r in self.of("status")
            if call_id is None or r.body["call_id"] == call_id
        ]

    def kinds(self) -> list[str]:
        return [r.kind for r in self.received if not r.duplicate]

    def ended(self, call_id: str) -> bool:
        return any(CallStatus(s).terminal for s in self.statuses(call_id))

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.post("/webhooks/loopback/{tenant_id}/{kind}")
        async def hook(tenant_id: uuid.UUID, kind: str, request: Request) -> Response:
            return await self.handle(tenant_id, kind, request)

        return app

    async def handle(self, tenant_id: uuid.UUID, kind: str, request: Request) -> Response:
        self.attempts.append((kind, request.headers.get("loopback-event-id", "")))
        if self.fail:
            return Response(status_code=self.fail.popleft())
        if kind in self.refuse:
            return Response(status_code=self.refuse[kind])
        raw = await request.body()
        webhook = WebhookRequest(
            kind=kind,
            method=request.method,
            url=str(request.url),
            headers={k.lower(): v for k, v in request.headers.items()},
            body=raw,
            query=dict(request.query_params),
        )
        with tenant_scope(tenant_id):
            provider = build_provider(self.platform, tenant_id, "loopback")
            try:
                await provider.verify_webhook(webhook)
            except WebhookRejected as exc:
                self.rejected.append(str(exc))
                return Response(status_code=403)
            parsed = provider.parse_webhook(webhook)
            seen = {r.headers["loopback-event-id"] for r in self.received}
            self.received.append(
                Received(
                    kind=kind,
                    tenant_id=tenant_id,
                    headers=dict(webhook.headers),
                    body=dict(parsed.payload),
                    query=dict(webhook.query),
                    events=parsed.events,
                    duplicate=parsed.dedupe_key in seen,
                )
            )
            [event] = parsed.events
            if not isinstance(event, InstructionsNeeded):
                return Response(status_code=204)
            answer = self.answers.popleft() if self.answers else self.default
            if isinstance(answer, bytes):
                return Response(answer, media_type="application/json")
            steps = answer(event) if callable(answer) else answer
            call = CallRef(
                id=uuid.uuid4(),
                provider_call_id=event.provider_call_id,
                direction=Direction.OUTBOUND,
                status=CallStatus.IN_PROGRESS,
                from_number=event.from_number or "",
                to_number=event.to_number or "",
            )
            document = await provider.execute(call, list(steps))
            return Response(document.body, media_type=document.content_type)


def provider_for(platform: Platform, tenant_id: uuid.UUID) -> LoopbackProvider:
    """The loopback provider object of a tenant, as ``calls`` builds it."""
    with tenant_scope(tenant_id):
        provider = build_provider(platform, tenant_id, "loopback")
    assert isinstance(provider, LoopbackProvider)
    return provider


def place(to: str = "+15005550199", **kwargs: Any) -> PlaceCall:
    """A call for the carrier to place, to ``to`` (its last digits choose the callee)."""
    return PlaceCall(call_id=uuid.uuid4(), from_number="+15005550100", to_number=to, **kwargs)


async def call(carrier: LoopbackProvider, receiver: Any, request: PlaceCall) -> str:
    """Place the call and wait until the receiver heard how it ended."""
    from kernel.testing import wait_until

    placed = await carrier.place_call(request)
    await wait_until(lambda: receiver.ended(placed.provider_call_id))
    return placed.provider_call_id


def final(receiver: Any, call_id: str) -> dict[str, Any]:
    """The last status report of the call."""
    return dict([b for b in receiver.bodies("status") if b["call_id"] == call_id][-1])
