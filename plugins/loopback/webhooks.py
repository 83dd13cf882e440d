"""Loopback's webhooks as normalized events: the signed JSON bodies of :mod:`payloads`, one
kind per URL, de-duplicated by their ``Loopback-Event-Id``."""

from __future__ import annotations

from plugins.calls import ParsedWebhook, WebhookMalformed, WebhookRequest
from plugins.loopback.payloads import PayloadError, events_of, parse_body
from plugins.loopback.signature import EVENT_ID_HEADER


def parse_webhook(webhook: WebhookRequest) -> ParsedWebhook:
    """Raise :class:`WebhookMalformed` for a delivery the carrier did not make."""
    event_id = webhook.headers.get(EVENT_ID_HEADER)
    if not event_id:
        raise WebhookMalformed("no Loopback-Event-Id")
    try:
        body, payload = parse_body(webhook.kind, webhook.body)
    except PayloadError as exc:
        raise WebhookMalformed(str(exc)) from None
    return ParsedWebhook(dedupe_key=event_id, events=events_of(body), payload=payload)
