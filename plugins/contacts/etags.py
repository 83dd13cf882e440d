"""``If-Match`` as contacts and segments read it: their ``version`` is the ``ETag``."""

from __future__ import annotations


def matches(if_match: str | None, version: int) -> bool:
    """Whether a change based on ``if_match`` may apply to a row at ``version``: no header,
    ``*``, or one of its ETags (weak ``W/"3"`` or strong ``"3"``) naming the version."""
    if if_match is None:
        return True
    tags = {tag.strip().removeprefix("W/").strip('"') for tag in if_match.split(",")}
    return "*" in tags or str(version) in tags
