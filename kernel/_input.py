"""Request input no route can use is refused before any route runs: ``422`` with the same
``validation-error`` problem as any other invalid field.

An ASGI layer in front of every route (provider webhooks excepted: they are verified on the
exact bytes received first, then their plugin decides) refuses:

* NUL characters and unpaired UTF-16 surrogates in the path, the query string and
  URL-encoded form fields;
* in a JSON body, the same in any string (keys included), the non-standard numbers
  ``NaN``, ``Infinity`` and ``-Infinity``, numbers that overflow to infinity (``1e999``),
  and integers beyond 64 bits.

None of them can be stored (see ``kernel._storable``) or even answered (a JSON answer cannot
carry a surrogate or a NaN), so no route should have to think about them. The body is read
once and handed on unchanged; it is parsed here only when a few substring searches over its
bytes find something that could be one of the above, so ordinary requests pay microseconds.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qsl

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from kernel._problems import VALIDATION_ERROR, problem_response
from kernel._storable import BAD_TEXT, INT64, REPLACEMENT, text_issue

_SUSPECT_TEXT = (b"\\u", b"\xed", b"NaN", b"Infinity")
"""NUL and surrogates can only come escaped (``\\u0000``) or as the UTF-8 bytes of a
surrogate (``0xED 0xA0..0xBF ...``); ``NaN`` and ``Infinity`` are Python's extensions."""
_ZERO_DIGITS = bytes.maketrans(b"123456789", b"000000000")
_SUSPECT_NUMBERS = (b"0" * 19, b"e000", b"E000", b"e+000", b"E+000")
"""After every digit became 0: an integer of 19 digits or more, a three-digit exponent."""
_MAX_ERRORS = 20
_MAX_LOC_TEXT = 100
_MESSAGES = {
    "nul-character": "NUL characters (U+0000) are not accepted",
    "lone-surrogate": "unpaired UTF-16 surrogates are not accepted",
    "non-finite-number": "numbers must be finite (no NaN or Infinity)",
    "out-of-range": f"integers must be between {INT64[0]} and {INT64[1]}",
}

Issue = dict[str, Any]


class InputGuardMiddleware:
    """Refuses the input described in the module docstring; ``exempt`` path prefixes pass."""

    def __init__(self, app: ASGIApp, *, exempt: tuple[str, ...] = ()) -> None:
        self.app = app
        self.exempt = exempt

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(self.exempt):
            await self.app(scope, receive, send)
            return
        issues = url_issues(scope)
        body: bytes | None = None
        kind = _body_kind(scope)
        if not issues and kind is not None:
            body = await _read_body(receive)
            if body is None:
                return  # the client went away: nobody to answer
            issues = json_issues(body) if kind == "json" else form_issues(body)
        if issues:
            response = problem_response(
                VALIDATION_ERROR,
                f"{len(issues)} field(s) failed validation",
                instance=_printable(scope["path"]),
                errors=issues,
            )
            await response(scope, receive, send)
            return
        await self.app(scope, receive if body is None else _replay(body, receive), send)


def url_issues(scope: Scope) -> list[Issue]:
    """NUL or surrogates in the decoded path or in the query string's parameters."""
    issues: list[Issue] = []
    path: str = scope["path"]
    reason = text_issue(path)
    if reason:
        issues.append(_issue(["path"], reason))
    query: bytes = scope.get("query_string", b"")
    if b"%00" in query or b"\x00" in query:  # percent-decoding makes no surrogates
        for name, value in parse_qsl(query.decode("latin-1"), keep_blank_values=True):
            reason = text_issue(value) or text_issue(name)
            if reason:
                issues.append(_issue(["query", _printable(name)], reason))
    return issues[:_MAX_ERRORS]


def form_issues(body: bytes) -> list[Issue]:
    """NUL in the fields of a URL-encoded form."""
    if b"%00" not in body and b"\x00" not in body:
        return []
    return [
        _issue(["body", _printable(name)], reason)
        for name, value in parse_qsl(body.decode("latin-1"), keep_blank_values=True)
        if (reason := text_issue(value) or text_issue(name))
    ][:_MAX_ERRORS]


def json_issues(body: bytes) -> list[Issue]:
    """What a JSON body holds that no route accepts; [] for anything else (a body that is
    not JSON is left to the route, which answers it as usual)."""
    if not _suspect(body):
        return []
    try:
        document = json.loads(body)
    except (ValueError, RecursionError):
        return []
    issues: list[Issue] = []
    for loc, value in _leaves(document):
        reason = _value_issue(value)
        if reason:
            issues.append(_issue(["body", *loc], reason))
            if len(issues) >= _MAX_ERRORS:
                break
    return issues


def _suspect(body: bytes) -> bool:
    """Whether the body could hold anything refused (substring searches only: a body
    without any of these markers is passed on unparsed)."""
    if any(marker in body for marker in _SUSPECT_TEXT):
        return True
    digits = body.translate(_ZERO_DIGITS)
    return any(marker in digits for marker in _SUSPECT_NUMBERS)


def _value_issue(value: Any) -> str | None:
    if isinstance(value, str):
        return text_issue(value)
    if isinstance(value, float):
        return None if math.isfinite(value) else "non-finite-number"
    if isinstance(value, int) and not isinstance(value, bool):
        return None if INT64[0] <= value <= INT64[1] else "out-of-range"
    return None


def _leaves(document: Any) -> Iterator[tuple[list[str | int], Any]]:
    """(location, value) of every key and scalar, without recursion (any depth)."""
    stack: list[tuple[list[str | int], Any]] = [([], document)]
    while stack:
        loc, value = stack.pop()
        if isinstance(value, dict):
            for key, item in value.items():
                yield [*loc, _printable(key)], key
                stack.append(([*loc, _printable(key)], item))
        elif isinstance(value, list):
            stack.extend(([*loc, index], item) for index, item in enumerate(value))
        else:
            yield loc, value


def _issue(loc: list[str | int], reason: str) -> Issue:
    return {"loc": loc, "message": _MESSAGES[reason], "type": reason.replace("-", "_")}


def _printable(text: str) -> str:
    """A key or path as it can be answered (shortened; what cannot be encoded replaced)."""
    return BAD_TEXT.sub(REPLACEMENT, text[:_MAX_LOC_TEXT])


def _body_kind(scope: Scope) -> str | None:
    """``json`` or ``form`` when the request has a body the routes parse, else None."""
    headers = dict(scope.get("headers", ()))
    length = headers.get(b"content-length")
    if length in (None, b"0") and b"transfer-encoding" not in headers:
        return None  # no body
    content_type = headers.get(b"content-type", b"").decode("latin-1")
    content_type = content_type.split(";", 1)[0].strip().lower()
    if not content_type or content_type == "application/json" or content_type.endswith("+json"):
        return "json"  # FastAPI reads a body without a content type as JSON
    if content_type == "application/x-www-form-urlencoded":
        return "form"
    return None


async def _read_body(receive: Receive) -> bytes | None:
    """The whole body; None when the client disconnected before sending it all."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return None
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    """A receive channel that gives ``body`` again, then whatever the client sends next."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if sent:
            return await receive()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replay
