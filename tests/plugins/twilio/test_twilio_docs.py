"""The Twilio documentation stays true: every setting is documented."""

from __future__ import annotations

from pathlib import Path

import pytest

from plugins.twilio.config import TwilioSettings

ROOT = Path(__file__).resolve().parents[3]
GUIDES = [ROOT / "docs" / "providers-twilio.md", ROOT / "docs" / "providers.md"]


@pytest.mark.parametrize("field", sorted(TwilioSettings.model_fields))
def test_every_setting_is_documented(field):
    name = f"`KRALIKI_TWILIO_{field.upper()}`"
    assert name in (ROOT / "README.md").read_text()
    assert any(name in guide.read_text() for guide in GUIDES if guide.exists())
