"""Routes of ``/api/v1/webhooks``: endpoints, deliveries, replays (thin; see service.py)."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Query, Request, Response
from sqlalchemy.ext.asyncio import AsyncSession

from kernel import (
    CursorPage,
    PageParamsDep,
    Permission,
    PlatformDep,
    Principal,
    ProblemError,
    SessionDep,
    UrlRefusedError,
    paginate,
    record_audit_event,
    require,
)
from plugins.webhooks import delivery as sending
from plugins.webhooks import permissions as perms
from plugins.webhooks import problems, service
from plugins.webhooks.models import DeliveryStatus, WebhookDelivery, WebhookEndpoint
from plugins.webhooks.schemas import (
    AttemptOut,
    BulkReplay,
    BulkReplayed,
    DeliveryDetail,
    DeliveryOut,
    EndpointCreate,
    EndpointCreated,
    EndpointOut,
    EndpointUpdate,
    EventTypeOut,
    RotateSecret,
    SecretRotated,
    TestResult,
)

router = APIRouter()


def _permission(permission: Permission) -> Any:
    return Depends(require(permission.resource, permission.action))


EndpointsRead = Annotated[Principal, _permission(perms.ENDPOINTS_READ)]
EndpointsWrite = Annotated[Principal, _permission(perms.ENDPOINTS_WRITE)]
DeliveriesRead = Annotated[Principal, _permission(perms.DELIVERIES_READ)]
DeliveriesReplay = Annotated[Principal, _permission(perms.DELIVERIES_REPLAY)]


def _refused(exc: UrlRefusedError) -> ProblemError:
    return ProblemError(problems.URL_REFUSED, str(exc), reason=exc.reason)


def _not_permitted(exc: service.EventsNotPermittedError) -> ProblemError:
    return ProblemError(
        problems.EVENT_NOT_PERMITTED,
        "you may not subscribe to these event types",
        events=exc.events,
    )


def _unknown(exc: service.UnknownEventTypeError) -> ProblemError:
    return ProblemError(
        problems.UNKNOWN_EVENT_TYPE,
        "these patterns match no event type the platform publishes",
        patterns=exc.patterns,
    )


async def _endpoint(session: AsyncSession, endpoint_id: uuid.UUID) -> WebhookEndpoint:
    try:
        return await service.get_endpoint(session, endpoint_id)
    except service.EndpointNotFoundError:
        raise ProblemError(problems.ENDPOINT_NOT_FOUND) from None


async def _delivery(session: AsyncSession, delivery_id: uuid.UUID) -> WebhookDelivery:
    try:
        return await service.get_delivery(session, delivery_id)
    except service.DeliveryNotFoundError:
        raise ProblemError(problems.DELIVERY_NOT_FOUND) from None


async def _detail(session: AsyncSession, delivery: WebhookDelivery) -> DeliveryDetail:
    attempts = await service.attempts_of(session, delivery.id)
    return DeliveryDetail(
        **DeliveryOut.model_validate(delivery).model_dump(),
        envelope=delivery.envelope,
        attempts=[AttemptOut.model_validate(a) for a in attempts],
    )


# -- event types ----------------------------------------------------------------------


@router.get(
    "/event-types",
    response_model=list[EventTypeOut],
    summary="List the event types endpoints can subscribe to",
)
async def list_event_types(_principal: EndpointsRead, platform: PlatformDep) -> list[EventTypeOut]:
    catalog = platform.events.catalog
    return [
        EventTypeOut(
            name=name,
            description=getattr(catalog.get(name), "description", "") or "",
            version=getattr(catalog.get(name), "version", 1),
        )
        for name in sorted(catalog)
    ]


# -- endpoints --------------------------------------------------------------------------


@router.get("/endpoints", response_model=CursorPage[EndpointOut], summary="List webhook endpoints")
async def list_endpoints(
    _principal: EndpointsRead, session: SessionDep, page: PageParamsDep
) -> CursorPage[EndpointOut]:
    rows, cursor = await paginate(
        session,
        service.list_endpoints_query(),
        order_by=[WebhookEndpoint.created_at, WebhookEndpoint.id],
        params=page,
    )
    return CursorPage(items=[EndpointOut.model_validate(r) for r in rows], next_cursor=cursor)


@router.post(
    "/endpoints",
    response_model=EndpointCreated,
    status_code=201,
    summary="Subscribe a URL to events (the answer holds its signing secret, shown once)",
)
async def create_endpoint(
    body: EndpointCreate,
    request: Request,
    principal: EndpointsWrite,
    session: SessionDep,
    platform: PlatformDep,
) -> EndpointCreated:
    try:
        endpoint, secret = await service.create_endpoint(
            platform,
            session,
            url=body.url,
            description=body.description,
            event_types=body.event_types,
            principal=principal,
        )
    except UrlRefusedError as exc:
        raise _refused(exc) from None
    except service.UnknownEventTypeError as exc:
        raise _unknown(exc) from None
    except service.EventsNotPermittedError as exc:
        raise _not_permitted(exc) from None
    except service.TooManyEndpointsError:
        raise ProblemError(problems.TOO_MANY_ENDPOINTS) from None
    record_audit_event(
        session,
        principal,
        "webhooks.endpoint.created",
        request=request,
        target_type="webhook_endpoint",
        target_id=endpoint.id,
        details={"event_types": endpoint.event_types},
    )
    await session.commit()
    return EndpointCreated(**EndpointOut.model_validate(endpoint).model_dump(), secret=secret)


@router.get(
    "/endpoints/{endpoint_id}", response_model=EndpointOut, summary="Get a webhook endpoint"
)
async def get_endpoint(
    endpoint_id: uuid.UUID, _principal: EndpointsRead, session: SessionDep
) -> EndpointOut:
    return EndpointOut.model_validate(await _endpoint(session, endpoint_id))


@router.patch(
    "/endpoints/{endpoint_id}", response_model=EndpointOut, summary="Change a webhook endpoint"
)
async def update_endpoint(
    endpoint_id: uuid.UUID,
    body: EndpointUpdate,
    request: Request,
    principal: EndpointsWrite,
    session: SessionDep,
    platform: PlatformDep,
) -> EndpointOut:
    endpoint = await _endpoint(session, endpoint_id)
    changes = body.model_dump(exclude_unset=True, exclude_none=True)
    try:
        changed = await service.update_endpoint(
            platform, session, endpoint, changes=changes, principal=principal
        )
    except UrlRefusedError as exc:
        raise _refused(exc) from None
    except service.UnknownEventTypeError as exc:
        raise _unknown(exc) from None
    except service.EventsNotPermittedError as exc:
        raise _not_permitted(exc) from None
    if changed:
        record_audit_event(
            session,
            principal,
            "webhooks.endpoint.updated",
            request=request,
            target_type="webhook_endpoint",
            target_id=endpoint.id,
            details={"fields": changed},  # never the URL: its query may hold a token
        )
        await session.commit()
    return EndpointOut.model_validate(endpoint)


@router.delete(
    "/endpoints/{endpoint_id}",
    status_code=204,
    summary="Delete a webhook endpoint with its deliveries and secrets",
)
async def delete_endpoint(
    endpoint_id: uuid.UUID,
    request: Request,
    principal: EndpointsWrite,
    session: SessionDep,
    platform: PlatformDep,
) -> Response:
    endpoint = await _endpoint(session, endpoint_id)
    await service.delete_endpoint(platform, session, endpoint)
    record_audit_event(
        session,
        principal,
        "webhooks.endpoint.deleted",
        request=request,
        target_type="webhook_endpoint",
        target_id=endpoint_id,
    )
    await session.commit()
    return Response(status_code=204)


@router.post(
    "/endpoints/{endpoint_id}/rotate-secret",
    response_model=SecretRotated,
    summary="Give the endpoint a new signing secret (shown once); the old one keeps "
    "signing during a grace period",
)
async def rotate_secret(
    endpoint_id: uuid.UUID,
    request: Request,
    principal: EndpointsWrite,
    session: SessionDep,
    platform: PlatformDep,
    body: Annotated[RotateSecret | None, Body()] = None,
) -> SecretRotated:
    endpoint = await _endpoint(session, endpoint_id)
    hours = body.grace_hours if body is not None else None
    if hours is None:
        hours = service.settings_of(platform).secret_grace_hours
    secret = await service.rotate_secret(platform, session, endpoint, grace=timedelta(hours=hours))
    record_audit_event(
        session,
        principal,
        "webhooks.endpoint.secret_rotated",
        request=request,
        target_type="webhook_endpoint",
        target_id=endpoint.id,
        details={"secret_version": endpoint.secret_version, "grace_hours": hours},
    )
    await session.commit()
    return SecretRotated(endpoint=EndpointOut.model_validate(endpoint), secret=secret)


@router.post(
    "/endpoints/{endpoint_id}/enable",
    response_model=EndpointOut,
    summary="Enable an endpoint again (after it was disabled for failing)",
)
async def enable_endpoint(
    endpoint_id: uuid.UUID,
    request: Request,
    principal: EndpointsWrite,
    session: SessionDep,
    platform: PlatformDep,
) -> EndpointOut:
    endpoint = await _endpoint(session, endpoint_id)
    if not endpoint.enabled:
        await service.enable_endpoint(platform, session, endpoint)
        record_audit_event(
            session,
            principal,
            "webhooks.endpoint.enabled",
            request=request,
            target_type="webhook_endpoint",
            target_id=endpoint.id,
        )
        await session.commit()
    return EndpointOut.model_validate(endpoint)


@router.post(
    "/endpoints/{endpoint_id}/test",
    response_model=TestResult,
    summary="Send a signed test event now and say how the receiver answered",
)
async def test_endpoint(
    endpoint_id: uuid.UUID,
    request: Request,
    principal: EndpointsWrite,
    session: SessionDep,
    platform: PlatformDep,
) -> TestResult:
    await _endpoint(session, endpoint_id)
    await session.commit()  # end the read: sending writes in transactions of its own
    delivery_id = await sending.send_test(platform, endpoint_id, principal=principal)
    delivery = await _delivery(session, delivery_id)
    detail = await _detail(session, delivery)
    record_audit_event(
        session,
        principal,
        "webhooks.endpoint.tested",
        request=request,
        target_type="webhook_endpoint",
        target_id=endpoint_id,
        details={"delivery_id": str(delivery_id), "status": delivery.status},
    )
    await session.commit()
    return TestResult(succeeded=delivery.status == "succeeded", delivery=detail)


# -- deliveries -------------------------------------------------------------------------


@router.get(
    "/deliveries", response_model=CursorPage[DeliveryOut], summary="List webhook deliveries"
)
async def list_deliveries(
    _principal: DeliveriesRead,
    session: SessionDep,
    page: PageParamsDep,
    endpoint_id: Annotated[uuid.UUID | None, Query()] = None,
    status: Annotated[DeliveryStatus | None, Query()] = None,
    event_type: Annotated[str | None, Query(max_length=120)] = None,
) -> CursorPage[DeliveryOut]:
    filters = service.DeliveryFilter(endpoint_id=endpoint_id, status=status, event_type=event_type)
    rows, cursor = await paginate(
        session,
        service.list_deliveries_query(filters),
        order_by=[WebhookDelivery.created_at, WebhookDelivery.id],
        params=page,
    )
    return CursorPage(items=[DeliveryOut.model_validate(r) for r in rows], next_cursor=cursor)


@router.get(
    "/deliveries/{delivery_id}",
    response_model=DeliveryDetail,
    summary="Get a delivery with its attempts",
)
async def get_delivery(
    delivery_id: uuid.UUID, _principal: DeliveriesRead, session: SessionDep
) -> DeliveryDetail:
    return await _detail(session, await _delivery(session, delivery_id))


@router.post(
    "/deliveries/replay",
    response_model=BulkReplayed,
    summary="Send an endpoint's dead (or failing) deliveries again",
)
async def replay_deliveries(
    body: BulkReplay,
    request: Request,
    principal: DeliveriesReplay,
    session: SessionDep,
    platform: PlatformDep,
) -> BulkReplayed:
    try:
        count = await service.replay_deliveries(
            platform,
            session,
            endpoint_id=body.endpoint_id,
            statuses=[body.status],
            since=body.since,
        )
    except service.EndpointNotFoundError:
        raise ProblemError(problems.ENDPOINT_NOT_FOUND) from None
    except service.EndpointDisabledError:
        raise ProblemError(problems.ENDPOINT_DISABLED) from None
    record_audit_event(
        session,
        principal,
        "webhooks.deliveries.replayed",
        request=request,
        target_type="webhook_endpoint",
        target_id=body.endpoint_id,
        details={"status": body.status, "count": count},
    )
    await session.commit()
    return BulkReplayed(replayed=count)


@router.post(
    "/deliveries/{delivery_id}/replay",
    response_model=DeliveryOut,
    summary="Send a delivery again (same webhook-id, fresh retry schedule)",
)
async def replay_delivery(
    delivery_id: uuid.UUID,
    request: Request,
    principal: DeliveriesReplay,
    session: SessionDep,
    platform: PlatformDep,
) -> DeliveryOut:
    delivery = await _delivery(session, delivery_id)
    try:
        await service.replay_delivery(platform, session, delivery)
    except service.EndpointDisabledError:
        raise ProblemError(problems.ENDPOINT_DISABLED) from None
    record_audit_event(
        session,
        principal,
        "webhooks.delivery.replayed",
        request=request,
        target_type="webhook_delivery",
        target_id=delivery.id,
    )
    await session.commit()
    return DeliveryOut.model_validate(delivery)
