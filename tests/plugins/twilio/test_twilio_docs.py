"""The Twilio documentation stays true: every setting is documented."""

from __future__ import annotations

from pathlib import Path

import pytest

from plugins.twilio.config import TwilioSettings

ROOT = Path(__file__).resolve().parents[3]
GUIDE = ROOT / "docs" / "providers.md"


@pytest.mark.parametrize("field", sorted(TwilioSettings.model_fields))
def test_every_setting_is_documented(field):
    name = f"`KRALIKI_TWILIO_{field.upper()}`"
    assert name in (ROOT / "README.md").read_text()
    assert name in GUIDE.read_text()
