"""Helpers of the twilio plugin's tests: a platform whose Twilio is the double, tenants with
Twilio credentials, and a stand-in for the platform's webhook endpoint."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any
from urllib.parse import parse_qsl

from fastapi import FastAPI, Request, Response

from kernel import Platform, tenant_scope
from plugins.calls import (
    CallRef,
    CallStatus,
    Direction,
    ParsedWebhook,
    WebhookMalformed,
    WebhookRejected,
    WebhookRequest,
    build_provider,
)
from plugins.twilio.provider import TwilioProvider
from plugins.twilio.testing import store_credentials as store_credentials

ACME_NUMBER = "+14155550100"
CALLEE = "+420601123456"


def provider_for(
    platform: Platform, tenant_id: uuid.UUID, call_id: uuid.UUID | None = None
) -> TwilioProvider:
    provider = build_provider(platform, tenant_id, "twilio", call_id=call_id)
    assert isinstance(provider, TwilioProvider)
    return provider


def call_ref(
    provider_call_id: str | None = "CA" + "1" * 32,
    status: CallStatus = CallStatus.IN_PROGRESS,
) -> CallRef:
    return CallRef(
        id=uuid.uuid4(),
        provider_call_id=provider_call_id,
        direction=Direction.OUTBOUND,
        status=status,
        from_number=ACME_NUMBER,
        to_number=CALLEE,
    )


class Receiver:
    """Where the double's callbacks land until the calls plugin's webhook routes exist: a
    real HTTP endpoint at ``/webhooks/twilio/<tenant id>/<kind>`` that verifies, parses and
    answers with the tenant's provider (``instructions`` for voice and gather)."""

    def __init__(self) -> None:
        self.url = ""
        self.platform: Platform | None = None
        self.parsed: list[tuple[str, ParsedWebhook]] = []
        self.instructions: Sequence[Any] = ()
        self.gather_answers: list[Sequence[Any]] = []
        """The answers to ``gather`` callbacks (a gather's or a dial's end), one each in
        order, the last one repeating; none: ``instructions``, as for voice."""
        self.app = FastAPI()
        self.app.post("/webhooks/twilio/{tenant_id}/{kind}")(self.handle)

    async def handle(self, tenant_id: uuid.UUID, kind: str, request: Request) -> Response:
        assert self.platform is not None
        body = await request.body()
        webhook = WebhookRequest(
            kind=kind,
            method=request.method,
            url=str(request.url),
            headers={k.lower(): v for k, v in request.headers.items()},
            body=body,
            form=dict(parse_qsl(body.decode(), keep_blank_values=True)),
        )
        with tenant_scope(tenant_id):
            provider = provider_for(self.platform, tenant_id)
            try:
                await provider.verify_webhook(webhook)
                parsed = provider.parse_webhook(webhook)
            except WebhookRejected:
                return Response(status_code=403)
            except WebhookMalformed:
                return Response(status_code=400)
            self.parsed.append((kind, parsed))
            instructions = self.instructions
            if kind == "gather" and self.gather_answers:
                answers = self.gather_answers
                instructions = answers.pop(0) if len(answers) > 1 else answers[0]
            if kind in ("voice", "gather") and instructions:
                answer = await provider.execute(call_ref(), instructions)
            else:
                answer = provider.empty_answer()
        return Response(answer.body, answer.status_code, media_type=answer.content_type)


OFFLINE_TENANT = uuid.UUID("00000000-0000-4000-8000-000000000001")
PUBLIC_BASE = "https://kraliki.example.com"


def offline_provider(**settings: Any) -> TwilioProvider:
    """A provider for what needs no platform (parsing, rendering): settings only."""
    from types import SimpleNamespace

    from plugins.calls import ProviderContext
    from plugins.twilio.config import TwilioSettings

    platform = SimpleNamespace(state={"twilio": TwilioSettings(_env_file=None, **settings)})
    context = ProviderContext(
        platform=platform,  # type: ignore[arg-type]
        tenant_id=OFFLINE_TENANT,
        provider="twilio",
        plugin="twilio",
        public_base_url=PUBLIC_BASE,
        webhook_prefix="twilio",
    )
    return TwilioProvider(context)


def offline_url(kind: str) -> str:
    return f"{PUBLIC_BASE}/webhooks/twilio/{OFFLINE_TENANT}/{kind}"
