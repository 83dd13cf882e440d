"""The contacts documentation stays true: settings, problem types, events and public names."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

import plugins.contacts
from kernel import ProblemType
from plugins.contacts.config import ContactsSettings
from plugins.contacts.events import EVENT_TYPES

ROOT = Path(__file__).resolve().parents[3]
GUIDE = ROOT / "docs" / "plugins" / "contacts.md"
PROBLEM_MODULES = [
    "plugins.contacts.problems",
    "plugins.contacts.imports.problems",
    "plugins.contacts.segments.problems",
    "plugins.contacts.compliance.problems",
    "plugins.contacts.privacy.problems",
]


def problem_types() -> list[ProblemType]:
    return [
        value
        for module in PROBLEM_MODULES
        for value in vars(importlib.import_module(module)).values()
        if isinstance(value, ProblemType)
    ]


@pytest.mark.parametrize("field", sorted(ContactsSettings.model_fields))
def test_every_setting_is_documented(field):
    name = f"`KRALIKI_CONTACTS_{field.upper()}`"
    assert name in (ROOT / "README.md").read_text()
    assert name in GUIDE.read_text()


@pytest.mark.parametrize("problem", problem_types(), ids=lambda p: p.slug)
def test_every_problem_type_is_listed(problem):
    assert f"`{problem.slug}`" in (ROOT / "docs" / "api-conventions.md").read_text()


def test_every_event_is_in_the_contacts_guide():
    text = GUIDE.read_text()
    assert [e.name for e in EVENT_TYPES if f"`{e.name}`" not in text] == []


def test_every_public_name_is_in_the_contacts_guide():
    text = GUIDE.read_text()
    assert [n for n in plugins.contacts.__all__ if f"`{n}`" not in text] == []
