"""The carrier's side of the webhooks: one call's deliveries, signed, one at a time, in the
order the call made them, retried with backoff like a real carrier's."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field

import httpx

from plugins.calls import ProviderContext
from plugins.loopback.carrier.clock import Clock
from plugins.loopback.config import LoopbackSettings
from plugins.loopback.payloads import Body, body_bytes
from plugins.loopback.signature import new_event_id, sign

logger = logging.getLogger(__name__)


@dataclass
class _Delivery:
    body: Body
    event_id: str = field(default_factory=new_event_id)
    answer: asyncio.Future[httpx.Response | None] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


class Outbox:
    """Webhooks are queued synchronously (:meth:`send`), so that control actions never wait
    for the platform, and sent by one task: the platform sees them in sequence order unless
    it makes the carrier retry. The call's clock is frozen while a webhook is in flight
    (retries and their backoff included)."""

    def __init__(
        self,
        *,
        context: ProviderContext,
        secret: str,
        settings: LoopbackSettings,
        clock: Clock,
    ) -> None:
        self._context = context
        self._secret = secret
        self._settings = settings
        self._clock = clock
        self._queue: asyncio.Queue[_Delivery] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self._unanswered = 0

    def send(self, body: Body) -> asyncio.Future[httpx.Response | None]:
        """Queue a webhook; the future gets the platform's 2xx answer, or None once the
        carrier gave up on it."""
        delivery = _Delivery(body)
        self._unanswered += 1
        self._queue.put_nowait(delivery)
        return delivery.answer

    def start(self) -> None:
        """Start sending; call it from the call's own task (whose context the sender
        inherits), never from a request."""
        if self._task is None:
            self._task = asyncio.create_task(self._work(), name="loopback-outbox")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        while not self._queue.empty():
            self._queue.get_nowait().answer.cancel()

    async def _work(self) -> None:
        while True:
            delivery = await self._queue.get()
            try:
                # The call's time stands still until the platform took the webhook.
                with self._clock.frozen():
                    result = await self._deliver(delivery)
            except Exception:
                logger.exception("loopback could not send a %s webhook", delivery.body.kind)
                result = None
            if not delivery.answer.done():
                delivery.answer.set_result(result)
            self._unanswered -= 1

    async def drained(self) -> None:
        """Wait until every queued webhook was answered (or given up) and nothing new was
        queued in reply (tests: the platform has heard all the call said)."""
        quiet = 0
        while quiet < 3:  # let whoever awaited an answer queue what it sends next
            quiet = quiet + 1 if self._unanswered == 0 else 0
            await asyncio.sleep(0 if quiet else 0.01)

    async def _deliver(self, delivery: _Delivery) -> httpx.Response | None:
        body = delivery.body
        url = self._context.webhook_url(body.kind)
        raw = body_bytes(body)
        attempts = self._settings.delivery_attempts
        http = self._context.platform.resilience.http
        reason = ""
        for attempt in range(1, attempts + 1):
            # A fresh timestamp and signature per attempt, the same event id: the platform
            # de-duplicates retries of a delivery it did process.
            headers = sign(self._secret, raw, event_id=delivery.event_id)
            try:
                response = await http.post(
                    url,
                    content=raw,
                    headers=headers,
                    timeout=self._settings.delivery_timeout_seconds,
                )
            except httpx.HTTPError as exc:
                reason = f"{type(exc).__name__}: {exc}"
            else:
                if response.is_success:
                    return response
                reason = f"answered {response.status_code}"
            if attempt < attempts:
                backoff = self._settings.retry_backoff_seconds * 2 ** (attempt - 1)
                await asyncio.sleep(self._clock.real(backoff))
        logger.warning(
            "loopback gave up on the %s webhook %s of call %s after %d attempts (%s)",
            body.kind,
            delivery.event_id,
            body.call_id,
            attempts,
            reason,
        )
        return None
