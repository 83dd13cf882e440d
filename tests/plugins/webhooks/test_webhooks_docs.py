"""The webhooks documentation stays true: every setting and problem type is documented."""

from __future__ import annotations

from pathlib import Path

import pytest

from kernel import ProblemType
from plugins.webhooks import problems
from plugins.webhooks.config import WebhookSettings

ROOT = Path(__file__).resolve().parents[3]


@pytest.mark.parametrize("field", sorted(WebhookSettings.model_fields))
def test_every_setting_is_documented(field):
    name = f"`KRALIKI_WEBHOOKS_{field.upper()}`"
    assert name in (ROOT / "README.md").read_text()
    assert name in (ROOT / "docs" / "webhooks.md").read_text()


@pytest.mark.parametrize(
    "problem", [p for p in vars(problems).values() if isinstance(p, ProblemType)]
)
def test_every_problem_type_is_listed(problem):
    assert f"`{problem.slug}`" in (ROOT / "docs" / "api-conventions.md").read_text()


def test_the_default_schedule_is_about_a_day(monkeypatch):
    monkeypatch.delenv("KRALIKI_WEBHOOKS_RETRY_SCHEDULE", raising=False)
    settings = WebhookSettings(_env_file=None)
    assert settings.attempts == 8
    assert 20 * 3600 < sum(settings.retry_schedule) < 28 * 3600
