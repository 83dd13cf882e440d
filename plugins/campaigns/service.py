"""Campaigns themselves: create, change and delete them, every value checked against what
the organization has (segments, contacts, queues, teams, flows, numbers, consent purposes)
before it is written.

No HTTP here: explicit sessions and keyword arguments. Each change bumps the campaign's
``version`` (its ``ETag``).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel
from sqlalchemy import case, delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from kernel import ProblemError, if_match_allows
from plugins.agents import Team
from plugins.calls import PhoneNumber
from plugins.campaigns.models import (
    AGENT_MODES,
    Attempt,
    Campaign,
    CampaignContact,
    CampaignState,
    ContactStatus,
    ListEntry,
    Mode,
    SourceKind,
)
from plugins.campaigns.problems import (
    CAMPAIGN_CHANGED,
    CAMPAIGN_EXISTS,
    CAMPAIGN_INVALID,
    CAMPAIGN_LOCKED,
    CAMPAIGN_NOT_FOUND,
    located,
)
from plugins.campaigns.schemas import (
    CampaignAmd,
    CampaignFrequencyCaps,
    CampaignOut,
    CampaignProgress,
    CampaignRetryRules,
    CampaignSchedule,
    CampaignSource,
)
from plugins.contacts import (
    SegmentNotFoundError,
    consent_purposes,
    count_segment,
    live_contact_ids,
)
from plugins.ivr import flow_problem
from plugins.queues import Queue

SETTINGS: dict[str, type[BaseModel]] = {
    "schedule": CampaignSchedule,
    "retry": CampaignRetryRules,
    "frequency_caps": CampaignFrequencyCaps,
    "amd": CampaignAmd,
}
"""JSON settings and the model that gives their defaults (a campaign created without one)."""
REFERENCES = ("queue_id", "team_id", "flow_id")
LOCKED_WHILE_ACTIVE = frozenset(
    {"mode", "source", "queue_id", "team_id", "flow_id", "caller_id", "consent_purpose", "amd"}
)
"""What decides who is called, from which number and on what grounds: fixed while the
campaign dials (pause it to change them)."""
FINISHED = (CampaignState.COMPLETED, CampaignState.ARCHIVED)


@dataclass
class Problems:
    """The 422 being collected: every wrong value at once, each with its location."""

    errors: list[dict[str, Any]] = field(default_factory=list)

    def add(self, loc: Sequence[str | int], message: str, type_: str = "value_error") -> None:
        self.errors.append({"loc": list(loc), "message": message, "type": type_})

    def raise_if_any(self, problem: Any = CAMPAIGN_INVALID) -> None:
        if self.errors:
            detail = "; ".join(
                f"{'.'.join(map(str, e['loc']))}: {e['message']}" for e in self.errors[:5]
            )
            raise ProblemError(problem, detail, errors=located(self.errors))


async def get_campaign(
    session: AsyncSession, campaign_id: uuid.UUID, *, for_update: bool = False
) -> Campaign:
    query = select(Campaign).where(Campaign.id == campaign_id)
    if for_update:
        query = query.with_for_update()
    campaign = await session.scalar(query)
    if campaign is None:
        raise ProblemError(CAMPAIGN_NOT_FOUND, f"no campaign {campaign_id}")
    return campaign


def check_version(campaign: Campaign, if_match: str | None) -> None:
    """``If-Match`` (``"3"``, ``W/"3"`` or ``*``) must name the campaign's current version."""
    if not if_match_allows(if_match, campaign.version):
        raise ProblemError(
            CAMPAIGN_CHANGED,
            f"the campaign is at version {campaign.version}; If-Match named {if_match}",
            current_version=campaign.version,
        )


async def list_contact_ids(session: AsyncSession, campaign_id: uuid.UUID) -> list[uuid.UUID]:
    rows = await session.scalars(
        select(ListEntry.contact_id)
        .where(ListEntry.campaign_id == campaign_id)
        .order_by(ListEntry.position)
    )
    return list(rows)


async def contact_count(session: AsyncSession, campaign: Campaign) -> int:
    """How many contacts the campaign calls now: its list's, or its segment's members (0 if
    the segment was deleted since)."""
    if campaign.source_kind == SourceKind.LIST.value:
        count = await session.scalar(
            select(func.count()).select_from(ListEntry).where(ListEntry.campaign_id == campaign.id)
        )
        return int(count or 0)
    try:
        return await count_segment(session, campaign.segment_id)  # type: ignore[arg-type]
    except SegmentNotFoundError:
        return 0


async def campaign_outs(session: AsyncSession, campaigns: Sequence[Campaign]) -> list[CampaignOut]:
    outs = []
    for c in campaigns:
        listed = await list_contact_ids(session, c.id) if c.source_kind == SourceKind.LIST else None
        source = (
            CampaignSource(kind=SourceKind.LIST, contact_ids=listed)
            if listed is not None
            else CampaignSource(kind=SourceKind.SEGMENT, segment_id=c.segment_id)
        )
        values = {name: getattr(c, name) for name in CampaignOut.model_fields if hasattr(c, name)}
        values |= {
            name: model.model_validate(getattr(c, name) or {}) for name, model in SETTINGS.items()
        }
        values |= {
            "source": source,
            "contacts": len(listed) if listed is not None else await contact_count(session, c),
            "progress": await progress(session, c.id),
        }
        outs.append(CampaignOut.model_validate(values))
    return outs


async def progress(session: AsyncSession, campaign_id: uuid.UUID) -> CampaignProgress:
    """The roster's contacts by status and the attempts so far (two grouped counts)."""
    contacts = {status.value: 0 for status in ContactStatus}
    rows = await session.execute(
        select(CampaignContact.status, func.count())
        .where(CampaignContact.campaign_id == campaign_id)
        .group_by(CampaignContact.status)
    )
    for status, count in rows:
        contacts[status] = int(count)
    attempts = (
        await session.execute(
            select(
                func.count(),
                func.count(Attempt.call_id),
                func.coalesce(func.sum(case((Attempt.allowed.is_(False), 1), else_=0)), 0),
            ).where(Attempt.campaign_id == campaign_id)
        )
    ).one()
    return CampaignProgress(
        contacts=contacts,
        attempts=int(attempts[0]),
        attempts_placed=int(attempts[1]),
        attempts_blocked=int(attempts[2]),
    )


async def create_campaign(session: AsyncSession, *, values: Mapping[str, Any]) -> Campaign:
    campaign = Campaign(
        id=uuid.uuid4(),
        mode=values["mode"],
        state=CampaignState.DRAFT.value,
        version=1,
        lines=2,
        **{name: model().model_dump(mode="json") for name, model in SETTINGS.items()},
    )
    listed = await _apply(session, campaign, values)
    session.add(campaign)
    await _flush_named(session, campaign.name)
    await _write_source(session, campaign, listed)
    return campaign


async def update_campaign(
    session: AsyncSession,
    *,
    campaign_id: uuid.UUID,
    values: Mapping[str, Any],
    if_match: str | None,
) -> tuple[Campaign, list[str]]:
    """The campaign changed as ``values`` say, and the names of the fields that did."""
    campaign = await get_campaign(session, campaign_id, for_update=True)
    check_version(campaign, if_match)
    _check_editable(campaign, values)
    before = await _comparable(session, campaign)
    listed = await _apply(session, campaign, values)
    await _flush_named(session, campaign.name)
    await _write_source(session, campaign, listed)
    changed = sorted(k for k, v in (await _comparable(session, campaign)).items() if before[k] != v)
    if changed:
        campaign.version += 1
        await session.flush()
    return campaign, changed


async def delete_campaign(
    session: AsyncSession, *, campaign_id: uuid.UUID, if_match: str | None
) -> Campaign:
    campaign = await get_campaign(session, campaign_id, for_update=True)
    check_version(campaign, if_match)
    if campaign.state != CampaignState.DRAFT:
        raise ProblemError(
            CAMPAIGN_LOCKED,
            f"only a draft is deleted; this campaign is {campaign.state} (archive it)",
            state=campaign.state,
            fields=[],
        )
    await session.delete(campaign)
    await session.flush()
    return campaign


def _check_editable(campaign: Campaign, values: Mapping[str, Any]) -> None:
    state = CampaignState(campaign.state)
    if state in FINISHED:
        raise ProblemError(
            CAMPAIGN_LOCKED,
            f"a {state.value} campaign no longer changes",
            state=state.value,
            fields=sorted(values),
        )
    if state is CampaignState.ACTIVE:
        locked = sorted(LOCKED_WHILE_ACTIVE & set(values))
        if locked:
            raise ProblemError(
                CAMPAIGN_LOCKED,
                f"pause the campaign to change {', '.join(locked)}",
                state=state.value,
                fields=locked,
            )
        looser = _looser(campaign, values)
        if looser:
            raise ProblemError(
                CAMPAIGN_LOCKED,
                f"while the campaign dials, {', '.join(looser)} may only get stricter",
                state=state.value,
                fields=looser,
            )


def _looser(campaign: Campaign, values: Mapping[str, Any]) -> list[str]:
    """Limits an active campaign may only tighten (its abandonment cap, frequency caps)."""
    looser = []
    rate = values.get("max_abandon_rate")
    if rate is not None and rate > campaign.max_abandon_rate:
        looser.append("max_abandon_rate")
    caps = values.get("frequency_caps")
    if caps is not None and any(
        caps[name] > (campaign.frequency_caps or {}).get(name, caps[name])
        for name in ("per_day", "per_week")
    ):
        looser.append("frequency_caps")
    return looser


async def _comparable(session: AsyncSession, campaign: Campaign) -> dict[str, Any]:
    names = ["name", "description", "mode", "caller_id", "consent_purpose", *REFERENCES]
    names += [*SETTINGS, "dispositions", "max_abandon_rate", "abandon_message", "ring_seconds"]
    names += ["lines"]
    values = {name: getattr(campaign, name) for name in names}
    listed = await list_contact_ids(session, campaign.id) if campaign.id else []
    values["source"] = (campaign.source_kind, campaign.segment_id, listed)
    return values


async def _apply(
    session: AsyncSession, campaign: Campaign, values: Mapping[str, Any]
) -> list[uuid.UUID] | None:
    """Set ``values`` on ``campaign`` and check every one of them (and the combination the
    result makes); raise one 422 naming all that are wrong. Returns a new static list to
    write (None: the list is unchanged). Nothing is flushed meanwhile (a duplicate name must
    surface where it is caught)."""
    with session.no_autoflush:
        return await _set_and_check(session, campaign, values)


async def _set_and_check(
    session: AsyncSession, campaign: Campaign, values: Mapping[str, Any]
) -> list[uuid.UUID] | None:
    problems = Problems()
    plain: tuple[str, ...] = ("name", "description", "mode", "caller_id", "consent_purpose")
    plain += ("dispositions",)
    plain += ("max_abandon_rate", "abandon_message", "ring_seconds", "lines", *SETTINGS)
    for name in plain:
        if name in values and values[name] is not None:
            setattr(campaign, name, values[name])
    for name in REFERENCES:
        if name in values:
            value = values[name]
            setattr(campaign, name, uuid.UUID(str(value)) if value is not None else None)
    if "abandon_message" in values and values["abandon_message"] is None:
        campaign.abandon_message = None
    listed: list[uuid.UUID] | None = None
    if values.get("source") is not None:
        source = values["source"]
        campaign.source_kind = source["kind"]
        segment = source.get("segment_id")
        campaign.segment_id = uuid.UUID(str(segment)) if segment else None
        if source["kind"] == SourceKind.LIST:
            listed = [uuid.UUID(str(i)) for i in source["contact_ids"]]
    await check_references(session, campaign, problems, listed=listed)
    problems.raise_if_any()
    return listed


async def _write_source(
    session: AsyncSession, campaign: Campaign, listed: list[uuid.UUID] | None
) -> None:
    """The campaign's list as ``listed`` says (None: unchanged), or none for a segment."""
    if listed is None and campaign.source_kind == SourceKind.LIST:
        return
    await session.execute(delete(ListEntry).where(ListEntry.campaign_id == campaign.id))
    session.add_all(
        ListEntry(campaign_id=campaign.id, contact_id=contact_id, position=position)
        for position, contact_id in enumerate(listed or ())
    )
    await session.flush()


async def check_references(
    session: AsyncSession,
    campaign: Campaign,
    problems: Problems,
    *,
    listed: list[uuid.UUID] | None = None,
) -> None:
    """What the campaign names exists in the organization and suits its mode: the segment or
    listed contacts, the queue/team (agent modes) or flow (agentless), the caller id (one of
    the organization's numbers), the consent purpose. ``listed``: a new list to check (the
    stored one is checked otherwise)."""
    mode = Mode(campaign.mode)
    if campaign.source_kind == SourceKind.SEGMENT:
        try:
            await count_segment(session, campaign.segment_id)  # type: ignore[arg-type]
        except SegmentNotFoundError:
            problems.add(["source", "segment_id"], "no segment of the organization has this id")
    else:
        wanted = listed if listed is not None else await list_contact_ids(session, campaign.id)
        found = await live_contact_ids(session, wanted)
        for position, contact_id in enumerate(wanted):
            if contact_id not in found:
                problems.add(
                    ["source", "contact_ids", position],
                    "no contact of the organization has this id (or it was erased or merged)",
                )
    if mode in AGENT_MODES:
        if campaign.queue_id is None and campaign.team_id is None:
            problems.add(["queue_id"], f"a {mode.value} campaign needs a queue or a team")
        if campaign.flow_id is not None:
            problems.add(["flow_id"], "only agentless campaigns run a flow")
    else:
        if campaign.flow_id is None:
            problems.add(["flow_id"], "an agentless campaign needs the flow its calls run")
        for name in ("queue_id", "team_id"):
            if getattr(campaign, name) is not None:
                problems.add([name], "an agentless campaign has no agents")
        if (campaign.amd or {}).get("on_machine") == "agent":
            problems.add(["amd", "on_machine"], "an agentless campaign has no agent to pass to")
    if (
        campaign.queue_id is not None
        and await session.scalar(select(Queue.id).where(Queue.id == campaign.queue_id)) is None
    ):
        problems.add(["queue_id"], "no queue of the organization has this id")
    if (
        campaign.team_id is not None
        and await session.scalar(select(Team.id).where(Team.id == campaign.team_id)) is None
    ):
        problems.add(["team_id"], "no team of the organization has this id")
    if campaign.flow_id is not None:
        why = await flow_problem(session, campaign.flow_id)
        if why:
            problems.add(["flow_id"], why)
    if (
        await session.scalar(select(PhoneNumber.id).where(PhoneNumber.number == campaign.caller_id))
        is None
    ):
        problems.add(["caller_id"], "not one of the organization's numbers")
    purposes = await consent_purposes(session)
    if campaign.consent_purpose not in purposes:
        problems.add(
            ["consent_purpose"],
            f"not one of the organization's consent purposes ({', '.join(purposes)})",
        )


async def _flush_named(session: AsyncSession, name: str) -> None:
    try:
        async with session.begin_nested():
            await session.flush()
    except IntegrityError as error:
        raise ProblemError(
            CAMPAIGN_EXISTS, f"the organization already has a campaign named {name!r}"
        ) from error
