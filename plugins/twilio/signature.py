"""Twilio webhook signatures: ``X-Twilio-Signature``, checked with the SDK's ``RequestValidator``.

Twilio signs the URL it called plus the POST fields (a GET: the URL alone) with HMAC-SHA1
keyed by the account's auth token, so the check needs the tenant's ``twilio.auth_token``.
"""

from __future__ import annotations

from collections.abc import Mapping

from twilio.request_validator import RequestValidator  # type: ignore[import-untyped]

SIGNATURE_HEADER = "x-twilio-signature"


class SignatureError(Exception):
    """Why a webhook is not Twilio's: the message names the check, never a token."""


def signature_of(headers: Mapping[str, str]) -> str:
    """The request's ``X-Twilio-Signature``; :class:`SignatureError` without one (checked
    before the auth token is read, so unsigned junk never reaches the vault)."""
    signature = headers.get(SIGNATURE_HEADER, "")
    if not signature:
        raise SignatureError("no X-Twilio-Signature")
    return signature


def verify_signature(
    url: str, method: str, form: Mapping[str, str] | None, signature: str, auth_token: str
) -> None:
    """Raise :class:`SignatureError` unless ``signature`` is Twilio's for this request."""
    params = (form or {}) if method.upper() == "POST" else {}
    if not RequestValidator(auth_token).validate(url, params, signature):
        raise SignatureError("X-Twilio-Signature does not match")
