"""``/api/v1/payments/reconciliations``: ask for a reconciliation of the ledger with the
processor over a period, follow it, read the differences it found."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response, status
from sqlalchemy import select

from kernel import (
    CursorPage,
    PageParamsDep,
    PlatformDep,
    Principal,
    ProblemError,
    SessionDep,
    paginate,
    problem_responses,
    require,
    utcnow,
)
from plugins.payments import reconcile
from plugins.payments import settings as payment_settings
from plugins.payments.models import DifferenceKind, Reconciliation, ReconciliationDifference
from plugins.payments.permissions import PAYMENTS_ALL, PAYMENTS_RECONCILE
from plugins.payments.problems import (
    PROCESSOR_NOT_CONFIGURED,
    RECONCILIATION_NOT_FOUND,
    RECONCILIATION_PERIOD_INVALID,
)
from plugins.payments.schemas import DifferenceOut, ReconciliationIn, ReconciliationOut

router = APIRouter(tags=["payments"])

Reader = Annotated[Principal, Depends(require(PAYMENTS_ALL.resource, PAYMENTS_ALL.action))]
"""A reconciliation names every payment of its period: ``payments:all``."""
Reconciler = Annotated[
    Principal, Depends(require(PAYMENTS_RECONCILE.resource, PAYMENTS_RECONCILE.action))
]
Kinds = Annotated[list[DifferenceKind] | None, Query(description="One or more kinds.")]


@router.post(
    "/reconciliations",
    response_model=ReconciliationOut,
    status_code=status.HTTP_202_ACCEPTED,
    summary="Reconcile the ledger with the processor over a period",
    responses=problem_responses(PROCESSOR_NOT_CONFIGURED, RECONCILIATION_PERIOD_INVALID),
)
async def request_reconciliation(
    body: ReconciliationIn,
    principal: Reconciler,
    session: SessionDep,
    platform: PlatformDep,
    response: Response,
) -> ReconciliationOut:
    """Queued for a background worker: follow it at `Location` until `completed` (or
    `failed`). Payments created in `[start, end)` are compared with the organization's
    processor; every difference is listed and published (`payments.reconciliation.difference`);
    a payment the processor settled without the ledger hearing of it is brought forward."""
    start, end = body.start, body.end
    if not start < end <= utcnow() or end - start > reconcile.MAX_PERIOD:
        raise ProblemError(
            RECONCILIATION_PERIOD_INVALID,
            f"[{start.isoformat()}, {end.isoformat()}) is not a period that can be reconciled",
        )
    processor = (await payment_settings.current(session)).processor
    if processor is None:
        raise ProblemError(PROCESSOR_NOT_CONFIGURED, "choose a processor in the payment settings")
    run = await reconcile.request(
        platform,
        session,
        processor=processor,
        start=start,
        end=end,
        trigger="api",
        requested_by=principal.label or principal.subject,
    )
    await session.commit()
    response.headers["Location"] = f"/api/v1/payments/reconciliations/{run.id}"
    return ReconciliationOut.of(run)


@router.get(
    "/reconciliations",
    response_model=CursorPage[ReconciliationOut],
    summary="Reconciliations, newest first",
)
async def list_reconciliations(
    _: Reader, session: SessionDep, page: PageParamsDep
) -> CursorPage[ReconciliationOut]:
    rows, cursor = await paginate(
        session,
        select(Reconciliation),
        order_by=[Reconciliation.created_at, Reconciliation.id],
        params=page,
    )
    return CursorPage(items=[ReconciliationOut.of(r) for r in rows], next_cursor=cursor)


async def _found(session: SessionDep, reconciliation_id: uuid.UUID) -> Reconciliation:
    run = await session.scalar(select(Reconciliation).where(Reconciliation.id == reconciliation_id))
    if run is None:
        raise ProblemError(RECONCILIATION_NOT_FOUND, f"no reconciliation {reconciliation_id}")
    return run


@router.get(
    "/reconciliations/{reconciliation_id}",
    response_model=ReconciliationOut,
    summary="A reconciliation and its counts",
    responses=problem_responses(RECONCILIATION_NOT_FOUND),
)
async def get_reconciliation(
    reconciliation_id: uuid.UUID, _: Reader, session: SessionDep
) -> ReconciliationOut:
    return ReconciliationOut.of(await _found(session, reconciliation_id))


@router.get(
    "/reconciliations/{reconciliation_id}/differences",
    response_model=CursorPage[DifferenceOut],
    summary="The differences a reconciliation found",
    responses=problem_responses(RECONCILIATION_NOT_FOUND),
)
async def list_differences(
    reconciliation_id: uuid.UUID,
    _: Reader,
    session: SessionDep,
    page: PageParamsDep,
    kind: Kinds = None,
) -> CursorPage[DifferenceOut]:
    await _found(session, reconciliation_id)
    query = select(ReconciliationDifference).where(
        ReconciliationDifference.reconciliation_id == reconciliation_id
    )
    if kind:
        query = query.where(ReconciliationDifference.kind.in_([k.value for k in kind]))
    rows, cursor = await paginate(
        session,
        query,
        order_by=[ReconciliationDifference.created_at, ReconciliationDifference.id],
        params=page,
    )
    return CursorPage(items=[DifferenceOut.of(r) for r in rows], next_cursor=cursor)
