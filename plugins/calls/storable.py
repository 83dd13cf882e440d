"""A verified provider webhook made storable before anything of it is kept.

Text the database cannot hold (NUL, unpaired UTF-16 surrogates) becomes U+FFFD wherever the
webhook carries it: its delivery id, its redacted payload and its events, so a caller's
garbled name or a transcript with a stray NUL is still kept and applied. The payload's
non-finite numbers are kept as the strings ``"NaN"``, ``"Infinity"``, ``"-Infinity"``.
What cannot be normalised without inventing data (a number beyond its column, a provider id
longer than its column, a non-finite number in an event) is left as it is: the kernel's
storage guard refuses it when the webhook is applied, and the pipeline keeps the webhook as
``rejected`` (see ``plugins.calls.ingest``).
"""

from __future__ import annotations

import dataclasses
from typing import Any

from kernel import storable_json, storable_text
from plugins.calls.provider import NormalizedEvent, ParsedWebhook


def storable_webhook(parsed: ParsedWebhook) -> ParsedWebhook:
    return dataclasses.replace(
        parsed,
        dedupe_key=storable_text(parsed.dedupe_key),
        events=[_storable_event(event) for event in parsed.events],
        payload=storable_json(dict(parsed.payload)),
    )


def _storable_event(event: NormalizedEvent) -> NormalizedEvent:
    changes: dict[str, Any] = {
        field.name: storable_text(value)
        for field in dataclasses.fields(event)
        if isinstance(value := getattr(event, field.name), str) and storable_text(value) != value
    }
    return dataclasses.replace(event, **changes) if changes else event
