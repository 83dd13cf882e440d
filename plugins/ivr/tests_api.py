"""``/api/v1/ivr/flows/{id}/tests``: a flow's saved regression tests, and running them."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Response
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from kernel import PlatformDep, Principal, ProblemError, SessionDep, problem_responses, require
from plugins.ivr import service
from plugins.ivr.models import FlowTest
from plugins.ivr.problems import FLOW_NOT_FOUND, TEST_INVALID, TEST_NOT_FOUND
from plugins.ivr.schemas import RunBody, RunOut, TestBody, TestOut, TestUpdate
from plugins.ivr.store import get_flow

router = APIRouter(
    prefix="/flows/{flow_id}/tests", responses=problem_responses(FLOW_NOT_FOUND, TEST_NOT_FOUND)
)

Reader = Annotated[Principal, Depends(require("ivr.flows", "read"))]
Writer = Annotated[Principal, Depends(require("ivr.flows", "write"))]


def test_out(test: FlowTest) -> TestOut:
    return TestOut(
        id=test.id,
        flow_id=test.flow_id,
        name=test.name,
        script=test.script,
        expect=test.expect,
        last_run_at=test.last_run_at,
        last_passed=test.last_passed,
    )


async def _test(session: SessionDep, flow_id: uuid.UUID, test_id: uuid.UUID) -> FlowTest:
    await get_flow(session, flow_id)
    test = await session.scalar(
        select(FlowTest).where(FlowTest.flow_id == flow_id, FlowTest.id == test_id)
    )
    if test is None:
        raise ProblemError(TEST_NOT_FOUND)
    return test


async def _commit(session: SessionDep, name: str) -> None:
    try:
        await session.commit()
    except IntegrityError:
        await session.rollback()
        raise ProblemError(TEST_INVALID, f"the flow already has a test named {name!r}") from None


@router.get("", response_model=list[TestOut], summary="List a flow's saved tests")
async def list_tests(flow_id: uuid.UUID, _principal: Reader, session: SessionDep) -> list[TestOut]:
    await get_flow(session, flow_id)
    tests = await session.scalars(
        select(FlowTest).where(FlowTest.flow_id == flow_id).order_by(FlowTest.name)
    )
    return [test_out(test) for test in tests]


@router.post("", response_model=TestOut, status_code=201, summary="Save a test case")
async def create_test(
    flow_id: uuid.UUID, body: TestBody, _principal: Writer, session: SessionDep
) -> TestOut:
    await get_flow(session, flow_id)
    test = FlowTest(
        flow_id=flow_id,
        name=body.name,
        script=body.script.model_dump(mode="json", by_alias=True, exclude_defaults=True),
        expect=body.expect.model_dump(mode="json", exclude_defaults=True),
    )
    session.add(test)
    await _commit(session, body.name)
    return test_out(test)


@router.post("/run", response_model=RunOut, summary="Run every saved test; results, coverage")
async def run_tests(
    flow_id: uuid.UUID,
    body: RunBody,
    _principal: Writer,
    session: SessionDep,
    platform: PlatformDep,
) -> RunOut:
    flow = await get_flow(session, flow_id)
    report = await service.run_tests(platform, session, flow, body.version)
    await session.commit()
    return RunOut.model_validate(report)


@router.get("/{test_id}", response_model=TestOut, summary="Get a saved test")
async def get_test(
    flow_id: uuid.UUID, test_id: uuid.UUID, _principal: Reader, session: SessionDep
) -> TestOut:
    return test_out(await _test(session, flow_id, test_id))


@router.put("/{test_id}", response_model=TestOut, summary="Change a saved test")
async def update_test(
    flow_id: uuid.UUID,
    test_id: uuid.UUID,
    body: TestUpdate,
    _principal: Writer,
    session: SessionDep,
) -> TestOut:
    test = await _test(session, flow_id, test_id)
    if body.name is not None:
        test.name = body.name
    if body.script is not None:
        test.script = body.script.model_dump(mode="json", by_alias=True, exclude_defaults=True)
    if body.expect is not None:
        test.expect = body.expect.model_dump(mode="json", exclude_defaults=True)
    if body.script is not None or body.expect is not None:
        test.last_passed = None
        test.last_run_at = None
    await _commit(session, test.name)
    return test_out(test)


@router.delete("/{test_id}", status_code=204, summary="Delete a saved test")
async def delete_test(
    flow_id: uuid.UUID, test_id: uuid.UUID, _principal: Writer, session: SessionDep
) -> Response:
    await session.delete(await _test(session, flow_id, test_id))
    await session.commit()
    return Response(status_code=204)
