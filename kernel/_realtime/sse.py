"""``GET /api/v1/realtime/sse``: the real-time stream as Server-Sent Events, for clients that
cannot use WebSockets (an ordinary request: ``Authorization`` header, ``Last-Event-ID``)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

from kernel._auth import require
from kernel._platform import get_platform
from kernel._principal import Principal
from kernel._problems import FORBIDDEN, SERVICE_UNAVAILABLE, ProblemError
from kernel._realtime import protocol
from kernel._realtime.access import Refused, check_may_subscribe
from kernel._realtime.hub import Hub, Subscriber
from kernel._realtime.permissions import EVENTS_SUBSCRIBE
from kernel.deps import SessionDep

router = APIRouter(prefix="/realtime", tags=["realtime"])

Subscribing = Annotated[
    Principal, Depends(require(EVENTS_SUBSCRIBE.resource, EVENTS_SUBSCRIBE.action))
]


class EventStream(StreamingResponse):
    """The subscriber's messages as ``text/event-stream``; the subscriber leaves the hub when
    the response ends, however it ends (even if the client left before the first byte)."""

    def __init__(self, hub: Hub, subscriber: Subscriber) -> None:
        super().__init__(
            _frames(hub, subscriber),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )
        self.hub = hub
        self.subscriber = subscriber

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self.hub.disconnect(self.subscriber)


@router.get(
    "/sse",
    response_class=StreamingResponse,
    summary="The real-time event stream as Server-Sent Events",
    responses={
        200: {
            "content": {"text/event-stream": {}},
            "description": "Events (`id`: event id, `event`: event name, `data`: envelope), "
            "`ready`/`reset`/`close` control events and `: heartbeat` comments; see "
            "docs/realtime.md.",
        }
    },
)
async def realtime_sse(
    request: Request,
    principal: Subscribing,
    session: SessionDep,
    events: Annotated[
        list[protocol.Pattern],
        Query(
            min_length=1,
            max_length=protocol.MAX_PATTERNS,
            description="Event-name patterns (`*` matches any run of characters); repeat "
            "the parameter for several.",
        ),
    ],
    last_event_id: Annotated[
        str | None,
        Header(
            alias="Last-Event-ID",
            max_length=64,
            description="Resume after this event (browsers send it when they reconnect).",
        ),
    ] = None,
) -> EventStream:
    hub = get_platform(request).realtime
    try:
        check_may_subscribe(principal)
    except Refused as refused:
        raise ProblemError(FORBIDDEN, refused.message) from None
    if hub.stopping:
        raise ProblemError(SERVICE_UNAVAILABLE, "the server is shutting down; reconnect")
    # A stream lasts for hours: it must not keep the request's database connection.
    await session.close()
    token = request.headers.get("authorization", "").partition(" ")[2].strip()
    subscriber = hub.connect(principal, token, "sse")
    try:
        await hub.subscribe(subscriber, tuple(events), last_event_id)
    except BaseException:
        hub.disconnect(subscriber)
        raise
    return EventStream(hub, subscriber)


async def _frames(hub: Hub, subscriber: Subscriber) -> AsyncIterator[str]:
    async for item in subscriber.outgoing(hub.heartbeat_seconds, lambda: hub.recheck(subscriber)):
        yield protocol.sse_frame(item)
    if subscriber.close_code is not None:
        yield protocol.sse_frame(protocol.error(subscriber.close_code, subscriber.close_reason))
