"""The Telnyx page stays true to the code: settings, secrets and mapped events documented."""

from __future__ import annotations

from pathlib import Path

import pytest

from plugins.telnyx.config import TelnyxSettings
from plugins.telnyx.secrets import SECRETS
from plugins.telnyx.webhooks import MAPPINGS

PAGE = (Path(__file__).resolve().parents[3] / "docs" / "providers.md").read_text()


@pytest.mark.parametrize("field", sorted(TelnyxSettings.model_fields))
def test_every_setting_is_documented(field):
    assert f"`KRALIKI_TELNYX_{field.upper()}`" in PAGE


@pytest.mark.parametrize("name", [spec.name for spec in SECRETS])
def test_every_secret_is_documented(name):
    assert f"`{name}`" in PAGE


@pytest.mark.parametrize("event_type", sorted(MAPPINGS))
def test_every_mapped_event_is_documented(event_type):
    assert f"`{event_type}`" in PAGE
