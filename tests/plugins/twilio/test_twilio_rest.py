"""Where the SDK's requests go, and which of Twilio's errors are worth a retry."""

from __future__ import annotations

import pytest
from twilio.base.exceptions import TwilioRestException

from kernel import RejectedError
from plugins.twilio.client import classify, refusal, route

DOUBLE = "http://127.0.0.1:8765"
CALLS = "https://api.twilio.com/2010-04-01/Accounts/AC1/Calls.json"


@pytest.mark.parametrize(
    ("url", "base", "expected"),
    [
        (CALLS, DOUBLE, f"{DOUBLE}/2010-04-01/Accounts/AC1/Calls.json"),
        (CALLS, f"{DOUBLE}/twilio/", f"{DOUBLE}/twilio/2010-04-01/Accounts/AC1/Calls.json"),
        (f"{CALLS}?PageSize=5", DOUBLE, f"{DOUBLE}/2010-04-01/Accounts/AC1/Calls.json?PageSize=5"),
        (
            "https://api.dublin.ie1.twilio.com/2010-04-01/x.json",
            DOUBLE,
            f"{DOUBLE}/2010-04-01/x.json",
        ),
        (CALLS, "https://api.twilio.com", CALLS),  # Twilio itself: region and edge still apply
        (CALLS, "https://api.twilio.com/", CALLS),
        ("https://media.example.com/a.mp3", DOUBLE, "https://media.example.com/a.mp3"),
        ("https://twilio.com.example.com/x", DOUBLE, "https://twilio.com.example.com/x"),
    ],
)
def test_route(url, base, expected):
    assert route(url, base) == expected


@pytest.mark.parametrize(
    ("status", "verdict"),
    [
        (500, "transient"),
        (502, "transient"),
        (503, "transient"),
        (429, "transient"),
        (408, "transient"),
        (400, "rejected"),
        (401, "rejected"),
        (404, "rejected"),
    ],
)
def test_classify(status, verdict):
    assert classify(TwilioRestException(status, CALLS, "x", 20000 + status)) == verdict


def test_other_errors_are_left_to_the_helper():
    assert classify(TimeoutError()) is None
    assert classify(ValueError("bug")) is None


def test_a_refusal_carries_twilios_message_and_code():
    cause = TwilioRestException(
        400, CALLS, "Unable to create record: The 'To' number +1 is not valid", 21211, "POST"
    )
    rejected = RejectedError("twilio", "twilio refused the request")
    rejected.__cause__ = cause

    refused = refusal(rejected)

    assert refused.code == "21211"
    assert refused.detail == (
        "Twilio refused the request (HTTP 400, error 21211): The 'To' number +1 is not valid"
    )
