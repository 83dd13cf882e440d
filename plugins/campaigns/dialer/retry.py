"""What becomes of a contact after an attempt ends: done when a person answered, else
another attempt after the outcome's ``retry.<outcome>.after_minutes`` while that outcome's
retries and the campaign's ``max_attempts_per_contact`` allow, else exhausted."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from plugins.campaigns.models import Attempt, Campaign, CampaignContact, ContactStatus, Outcome
from plugins.campaigns.schemas import CampaignRetry, CampaignRetryRules


def retry_rule(rules: CampaignRetryRules, outcome: Outcome) -> CampaignRetry:
    rule: CampaignRetry = getattr(rules, outcome.value)
    return rule


async def settle_contact(
    session: AsyncSession,
    campaign: Campaign,
    contact: CampaignContact,
    outcome: Outcome,
    now: datetime,
) -> None:
    """Set the contact's status after an attempt ended with ``outcome`` (already stored on
    the attempt, so it counts among the outcome's tries)."""
    contact.last_outcome = outcome.value
    contact.next_attempt_at = None
    if outcome is Outcome.HUMAN:
        contact.status = ContactStatus.DONE.value
        return
    rules = CampaignRetryRules.model_validate(campaign.retry or {})
    rule = retry_rule(rules, outcome)
    tries = await session.scalar(
        select(func.count())
        .select_from(Attempt)
        .where(
            Attempt.campaign_id == campaign.id,
            Attempt.contact_id == contact.contact_id,
            Attempt.outcome == outcome.value,
        )
    )
    retries_used = max(0, int(tries or 0) - 1)
    if retries_used < rule.max_attempts and contact.attempts < rules.max_attempts_per_contact:
        contact.status = ContactStatus.SCHEDULED.value
        contact.next_attempt_at = now + timedelta(minutes=rule.after_minutes)
    else:
        contact.status = ContactStatus.EXHAUSTED.value
