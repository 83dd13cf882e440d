"""Optimistic concurrency over HTTP: a resource's ``version`` is its ``ETag``, and a change
sent with ``If-Match`` applies only to the version it was based on (RFC 9110, 13.1.1)."""

from __future__ import annotations


def if_match_allows(if_match: str | None, version: int) -> bool:
    """Whether a change sent with ``If-Match: <if_match>`` may apply to a row at ``version``:
    no header, ``*``, or one of its ETags (weak ``W/"3"`` or strong ``"3"``) naming the
    version. The caller answers ``412`` with its own problem type otherwise."""
    if if_match is None:
        return True
    tags = {tag.strip().removeprefix("W/").strip('"') for tag in if_match.split(",")}
    return "*" in tags or str(version) in tags
