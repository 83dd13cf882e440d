"""Twilio's secure-capture status callbacks (an agent-assisted session's and a ``<Pay>``'s)
as ``PaymentProgress``: the field, a count of digits and a mask built here (never more than
a card number's last four digits, whatever Twilio sent), what is still required, the error,
and the outcome; the stored payload holds no card field."""

from __future__ import annotations

import pytest

from plugins.calls import CaptureField, PaymentProgress, WebhookRequest
from plugins.twilio.webhooks import parse_webhook

SID = "CA" + "1" * 32
SESSION = "PK" + "2" * 32


def progress(form: dict[str, str]) -> tuple[PaymentProgress, dict[str, object]]:
    request = WebhookRequest(
        kind="payment",
        method="POST",
        url="https://platform.example.com/webhooks/twilio/t/payment",
        headers={"i-twilio-idempotency-token": "tok"},
        body=b"",
        form={"AccountSid": "AC" + "0" * 32, "CallSid": SID} | form,
    )
    parsed = parse_webhook(request, recording_type="audio/mpeg")
    [event] = parsed.events
    assert isinstance(event, PaymentProgress)
    return event, dict(parsed.payload)


def test_an_agent_session_reports_a_card_number_keyed():
    event, payload = progress(
        {
            "Sid": SESSION,
            "Capture": "payment-card-number",
            "PartialResult": "false",
            "PaymentCardNumber": "xxxxxxxxxxxx4242",
            "PaymentCardType": "visa",
            "Required": "expiration-date,security-code",
            "ErrorType": "",
        }
    )
    assert (event.session_id, event.field, event.partial) == (
        SESSION,
        CaptureField.CARD_NUMBER,
        False,
    )
    assert (event.digits, event.masked, event.card_type) == (16, "xxxxxxxxxxxx4242", "visa")
    assert event.required == ("expiration-date", "security-code")
    assert (event.error, event.capture) == (None, None)
    assert "PaymentCardNumber" not in payload


@pytest.mark.parametrize(
    ("sent", "digits", "masked"),
    [
        ("4000056655665556", 16, "xxxxxxxxxxxx5556"),  # whole, as Twilio never should
        ("xxxx xxxx xxxx 1111", 16, "xxxxxxxxxxxx1111"),
        ("40000566", 8, "xxxxxxxx"),  # fewer than twelve keyed: nothing shown
        ("", 0, None),
    ],
)
def test_the_mask_is_the_platforms_own(sent, digits, masked):
    event, _ = progress(
        {"Sid": SESSION, "Capture": "payment-card-number", "PartialResult": "true"}
        | {"PaymentCardNumber": sent}
    )
    assert (event.digits, event.masked, event.partial) == (digits, masked, True)


def test_an_expiry_the_caller_got_wrong_and_a_pay_verbs_progress():
    event, _ = progress(
        {
            "Sid": SESSION,
            "Capture": "expiration-date",
            "PartialResult": "false",
            "ExpirationDate": "1399",
            "ErrorType": "invalid-date",
        }
    )
    assert (event.field, event.masked, event.error) == (
        CaptureField.EXPIRATION_DATE,
        "xxxx",
        "invalid-date",
    )
    verb, _ = progress({"For": "security-code", "PartialResult": "true", "SecurityCode": "12"})
    assert (verb.session_id, verb.field, verb.digits, verb.masked) == (
        None,
        CaptureField.SECURITY_CODE,
        2,
        "xx",
    )


@pytest.mark.parametrize(
    ("result", "status"),
    [
        ("success", "succeeded"),
        ("payment-connector-error", "failed"),
        ("caller-hung-up", "cancelled"),
        ("something-new", "failed"),
    ],
)
def test_the_outcome_ends_the_session(result, status):
    event, payload = progress(
        {
            "Sid": SESSION,
            "Result": result,
            "PaymentConfirmationCode": "pi_123" if status == "succeeded" else "",
            "PaymentError": "card_declined" if status == "failed" else "",
            "PaymentToken": "tok_secret",
        }
    )
    assert event.capture is not None
    assert (event.capture.status, event.capture.result) == (status, result)
    assert event.capture.confirmation == ("pi_123" if status == "succeeded" else None)
    assert event.capture.token is None  # never read: it could pay again
    assert "PaymentToken" not in payload
