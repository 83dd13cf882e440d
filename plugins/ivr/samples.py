"""Sample flows a new organization can import (``POST /api/v1/ivr/samples/{name}/import``),
with their saved tests. ``front-desk`` is the worked example of ``docs/plugins/ivr.md``."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

FRONT_DESK: dict[str, Any] = {
    "start": "hours",
    "language": "en-US",
    "fallback": {
        "message": "Sorry, something went wrong. Let me put you through to an operator.",
        "transfer_to": "+15551230000",
    },
    "nodes": {
        "hours": {
            "type": "business_hours",
            "label": "Office hours",
            "hours": {
                "timezone": "America/New_York",
                "weekly": {
                    day: [{"open": "09:00", "close": "17:00"}]
                    for day in ("mon", "tue", "wed", "thu", "fri")
                },
                "holidays": [
                    {"date": "2026-12-25", "name": "Christmas Day", "yearly": True},
                    {"date": "2027-01-01", "name": "New Year's Day", "yearly": True},
                ],
            },
            "exits": {"open": "lookup", "closed": "closed", "holiday": "holiday"},
        },
        "lookup": {
            "type": "http_lookup",
            "label": "Who is calling?",
            "url": "https://crm.example.com/api/customers?phone={{ call.caller }}",
            "auth": "bearer",
            "timeout_seconds": 2,
            "assign": {"customer_name": "name", "tier": "tier"},
            "exits": {"next": "welcome_back", "not_found": "welcome", "error": "welcome"},
        },
        "welcome_back": {
            "type": "say",
            "text": "Welcome back, {{ customer_name }}.",
            "exits": {"next": "vip"},
        },
        "vip": {
            "type": "condition",
            "label": "Gold customers skip the menu",
            "cases": [{"name": "gold", "when": 'tier == "gold"'}],
            "exits": {"gold": "vip_line", "else": "menu"},
        },
        "welcome": {
            "type": "say",
            "text": "Thank you for calling Acme.",
            "exits": {"next": "menu"},
        },
        "menu": {
            "type": "menu",
            "input": "dtmf",
            "options": [
                {"key": "1", "label": "sales"},
                {"key": "2", "label": "support"},
                {"key": "3", "label": "leaving a message"},
            ],
            "retries": 1,
            "exits": {
                "1": "sales",
                "2": "support",
                "3": "voicemail",
                "no_input": "voicemail",
                "no_match": "operator",
            },
        },
        "sales": {
            "type": "transfer",
            "number": "+15551230001",
            "message": "Connecting you to sales.",
            "exits": {"failed": "voicemail"},
        },
        "support": {
            "type": "transfer",
            "number": "+15551230002",
            "message": "Connecting you to support.",
            "exits": {"failed": "voicemail"},
        },
        "vip_line": {
            "type": "transfer",
            "number": "+15551230003",
            "message": "Connecting you to your account manager.",
        },
        "operator": {
            "type": "transfer",
            "number": "+15551230000",
            "message": "Let me put you through to an operator.",
        },
        "closed": {
            "type": "say",
            "text": "Our office is open Monday to Friday, nine to five, Eastern time.",
            "exits": {"next": "voicemail"},
        },
        "holiday": {
            "type": "say",
            "text": "Our office is closed today for the holiday.",
            "exits": {"next": "voicemail"},
        },
        "voicemail": {
            "type": "voicemail",
            "prompt": "Please leave your name, number and message after the tone.",
            "max_seconds": 120,
        },
    },
}

MONDAY_10AM = "2026-11-23T10:00:00-05:00"

FRONT_DESK_TESTS: list[dict[str, Any]] = [
    {
        "name": "gold customer goes straight to their account manager",
        "script": {
            "caller": "+15550100",
            "at": MONDAY_10AM,
            "lookups": {"lookup": {"status": 200, "json": {"name": "Ada", "tier": "gold"}}},
        },
        "expect": {
            "outcome": "transferred",
            "transferred_to": "+15551230003",
            "prompts_include": ["Welcome back, Ada."],
        },
    },
    {
        "name": "silver customer presses 1 for sales",
        "script": {
            "at": MONDAY_10AM,
            "lookups": {"lookup": {"status": 200, "json": {"name": "Bo", "tier": "silver"}}},
            "steps": [{"digits": "1"}],
        },
        "expect": {
            "visits": ["welcome_back", "vip", "menu", "sales"],
            "transferred_to": "+15551230001",
            "variables": {"customer_name": "Bo", "tier": "silver"},
        },
    },
    {
        "name": "unknown caller presses 2 for support",
        "script": {
            "at": MONDAY_10AM,
            "lookups": {"lookup": {"status": 404}},
            "steps": [{"digits": "2"}],
        },
        "expect": {
            "path": ["hours:open", "lookup:not_found", "welcome:next", "menu:2", "support:ended"],
            "outcome": "transferred",
            "transferred_to": "+15551230002",
        },
    },
    {
        "name": "nobody answers in support: leave a message",
        "script": {
            "at": MONDAY_10AM,
            "lookups": {"lookup": {"status": 404}},
            "steps": [{"digits": "2"}, {"transfer": "no-answer"}],
        },
        "expect": {
            "outcome": "voicemail",
            "visits": ["menu", "support", "voicemail"],
            "prompts_include": ["Connecting you to support.", "after the tone"],
        },
    },
    {
        "name": "sales is busy: leave a message",
        "script": {
            "at": MONDAY_10AM,
            "lookups": {"lookup": {"status": 404}},
            "steps": [{"digits": "1"}, {"transfer": "busy"}],
        },
        "expect": {
            "path": [
                "hours:open",
                "lookup:not_found",
                "welcome:next",
                "menu:1",
                "sales:failed",
                "voicemail:ended",
            ],
            "outcome": "voicemail",
        },
    },
    {
        "name": "a wrong key twice reaches the operator",
        "script": {
            "at": MONDAY_10AM,
            "lookups": {"lookup": {"fail": "timeout"}},
            "steps": [{"digits": "9"}, {"digits": "7"}],
        },
        "expect": {"end_node": "operator", "prompts_include": ["not one of the choices"]},
    },
    {
        "name": "silence twice leaves a message",
        "script": {
            "at": MONDAY_10AM,
            "lookups": {"lookup": {"status": 404}},
            "steps": [{"silence": True}, {"silence": True}],
        },
        "expect": {"outcome": "voicemail", "visits": ["menu", "voicemail"]},
    },
    {
        "name": "closed on Christmas Day",
        "script": {"at": "2026-12-25T11:00:00-05:00"},
        "expect": {
            "outcome": "voicemail",
            "path": ["hours:holiday", "holiday:next", "voicemail:ended"],
        },
    },
    {
        "name": "closed in the evening",
        "script": {"at": "2026-11-23T19:30:00-05:00"},
        "expect": {"outcome": "voicemail", "visits": ["closed", "voicemail"]},
    },
]


@dataclass(frozen=True)
class Sample:
    name: str
    title: str
    description: str
    _document: dict[str, Any]
    _tests: list[dict[str, Any]]

    def document(self) -> dict[str, Any]:
        return copy.deepcopy(self._document)

    def tests(self) -> list[dict[str, Any]]:
        return copy.deepcopy(self._tests)


SAMPLES = {
    "front-desk": Sample(
        name="front-desk",
        title="Front desk",
        description="Business hours, a customer lookup in your CRM, a menu, transfers and "
        "voicemail, with nine saved tests.",
        _document=FRONT_DESK,
        _tests=FRONT_DESK_TESTS,
    )
}
