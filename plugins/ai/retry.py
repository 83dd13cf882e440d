"""How long a model provider asked to wait: one reading of its headers for every provider."""

from __future__ import annotations

from collections.abc import Mapping


def retry_after_seconds(headers: Mapping[str, str]) -> float | None:
    """``retry-after-ms`` (milliseconds) or ``retry-after`` (seconds), the first that parses;
    None when neither says."""
    for header, scale in (("retry-after-ms", 1000.0), ("retry-after", 1.0)):
        value = (headers.get(header) or "").strip()
        try:
            seconds = float(value) / scale
        except ValueError:
            continue
        if seconds >= 0:
            return seconds
    return None
