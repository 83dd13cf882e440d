"""Flows other plugins make: a sample's document and tests to start from, and a flow created
and published from a document in one step (a plugin's own sample, such as the queues
plugin's support line). The same checks as the API's: a taken name, a draft with problems,
failing tests when the organization requires passing ones."""

from __future__ import annotations

import copy
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kernel import Platform, ProblemError
from plugins.ivr import service
from plugins.ivr.models import Flow, FlowTest
from plugins.ivr.problems import FLOW_EXISTS
from plugins.ivr.samples import SAMPLES
from plugins.ivr.simulator import Script
from plugins.ivr.testcases import Expectation


@dataclass(frozen=True)
class SampleFlow:
    """A copy of one of the IVR's samples: change it at will."""

    title: str
    description: str
    document: dict[str, Any]
    tests: list[dict[str, Any]]
    """Saved tests: ``name``, ``script`` and ``expect``, as ``POST .../tests`` takes them."""


@dataclass(frozen=True)
class PublishedFlow:
    flow_id: uuid.UUID
    version: int


def sample_flow(name: str) -> SampleFlow:
    """The IVR sample ``name`` (``front-desk``, :data:`plugins.ivr.samples.SAMPLES`); raises
    KeyError for another name."""
    sample = SAMPLES[name]
    return SampleFlow(
        title=sample.title,
        description=sample.description,
        document=sample.document(),
        tests=sample.tests(),
    )


async def create_published_flow(
    platform: Platform,
    session: AsyncSession,
    *,
    name: str,
    description: str,
    document: dict[str, Any],
    tests: list[dict[str, Any]],
    note: str,
    actor: str | None,
) -> PublishedFlow:
    """Create flow ``name`` in the session's tenant with ``document`` as its draft and
    ``tests`` saved, and publish it as version 1 (``ivr.flow.published``); nothing is
    committed. Raises :class:`ProblemError`: ``ivr-flow-exists`` (409) for a taken name,
    ``ivr-flow-invalid`` (422) for a draft with problems, ``ivr-tests-failed`` (422) when
    the organization requires passing tests and one fails. A test that is not a test is a
    programming error (ValueError)."""
    for test in tests:
        Script.model_validate(test["script"])
        Expectation.model_validate(test["expect"])
    if await session.scalar(select(Flow.id).where(Flow.name == name)) is not None:
        raise ProblemError(FLOW_EXISTS, f"a flow named {name!r} exists")
    flow = Flow(name=name, description=description, draft=copy.deepcopy(document), draft_revision=1)
    session.add(flow)
    await session.flush()
    session.add_all(
        FlowTest(flow_id=flow.id, name=t["name"], script=t["script"], expect=t["expect"])
        for t in tests
    )
    await session.flush()
    version = await service.publish(platform, session, flow, note=note, actor=actor)
    return PublishedFlow(flow_id=flow.id, version=version.number)
