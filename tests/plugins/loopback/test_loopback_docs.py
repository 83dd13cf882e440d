"""The loopback documentation stays true: settings, magic numbers, steps, capabilities."""

from __future__ import annotations

from pathlib import Path

import pytest

from plugins.loopback.carrier.script import MAGIC_NUMBERS, STEP_NAMES
from plugins.loopback.config import LoopbackSettings
from plugins.loopback.permissions import INBOUND_CREATE
from plugins.loopback.problems import CARRIER_UNAVAILABLE, NUMBER_NOT_FOUND, SCRIPT_INVALID

ROOT = Path(__file__).resolve().parents[3]
GUIDE = (ROOT / "docs" / "providers.md").read_text()


@pytest.mark.parametrize("field", sorted(LoopbackSettings.model_fields))
def test_every_setting_is_documented(field):
    name = f"`KRALIKI_LOOPBACK_{field.upper()}`"
    assert name in GUIDE
    assert name in (ROOT / "README.md").read_text()


@pytest.mark.parametrize("field", sorted(LoopbackSettings.model_fields))
def test_documented_defaults_are_the_real_ones(field):
    default = LoopbackSettings.model_fields[field].default
    assert f"| `KRALIKI_LOOPBACK_{field.upper()}` | `{default}` |" in GUIDE


@pytest.mark.parametrize("suffix", sorted(MAGIC_NUMBERS))
def test_every_magic_number_is_documented(suffix):
    assert f"| `{suffix}` |" in GUIDE


@pytest.mark.parametrize("step", sorted(STEP_NAMES))
def test_every_script_step_is_documented(step):
    assert f"| `{step}` |" in GUIDE


def test_the_readme_links_the_guide():
    assert "docs/providers.md#the-loopback-provider" in (ROOT / "README.md").read_text()


@pytest.mark.parametrize(
    "problem", [NUMBER_NOT_FOUND, SCRIPT_INVALID, CARRIER_UNAVAILABLE], ids=lambda p: p.slug
)
def test_every_problem_type_is_documented(problem):
    assert f"`{problem.slug}`" in (ROOT / "docs" / "api-conventions.md").read_text()
    assert f"`/problems/{problem.slug}`" in GUIDE


def test_the_inbound_route_and_its_permission_are_documented():
    assert "POST /api/v1/loopback/inbound-calls" in GUIDE
    assert f"`{INBOUND_CREATE.key}`" in GUIDE
