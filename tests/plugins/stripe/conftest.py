"""The Stripe stand-in's tests talk to it with the real ``stripe`` SDK only; webhooks reach an
inbox served on loopback."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest
import stripe
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from kernel.testing import serve_app
from plugins.stripe.testing import StripeStandIn


@dataclass
class Inbox:
    """A webhook endpoint: records each POST (raw body and headers), answers ``status``."""

    status: int = 200
    received: list[tuple[bytes, dict[str, str]]] = field(default_factory=list)
    url: str = ""

    async def receive(self, request: Request) -> Response:
        self.received.append((await request.body(), dict(request.headers)))
        return Response(status_code=self.status)

    def verified(self, secret: str) -> list[stripe.Event]:
        """Every event received, checked and parsed by the SDK's own webhook verification."""
        return [
            stripe.Webhook.construct_event(body, headers["stripe-signature"], secret)
            for body, headers in self.received
        ]


@pytest.fixture
async def stand_in() -> AsyncIterator[StripeStandIn]:
    async with StripeStandIn() as running:
        yield running


@pytest.fixture
def client(stand_in: StripeStandIn) -> stripe.StripeClient:
    return stripe.StripeClient(
        stand_in.api_key, base_addresses=stand_in.base_addresses, max_network_retries=0
    )


@pytest.fixture
async def inbox(stand_in: StripeStandIn) -> AsyncIterator[Inbox]:
    """An inbox that the stand-in's account sends its events to."""
    found = Inbox()
    app = Starlette(routes=[Route("/stripe/webhook", found.receive, methods=["POST"])])
    async with contextlib.AsyncExitStack() as stack:
        found.url = await stack.enter_async_context(serve_app(app)) + "/stripe/webhook"
        stand_in.webhook_url = found.url
        yield found
