"""``GET /api/v1/realtime`` as a WebSocket: authenticate (subprotocol or first message),
subscribe by event-name patterns, receive events, heartbeats and, on the way out, an
``error`` message and a close code (``docs/realtime.md``)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping
from typing import Any

from fastapi import APIRouter, Depends, WebSocket, WebSocketDisconnect

from kernel._auth import authenticates_itself
from kernel._realtime import protocol
from kernel._realtime.access import Refused, authenticate
from kernel._realtime.hub import Hub, Subscriber
from kernel._realtime.permissions import EVENTS_SUBSCRIBE
from kernel._realtime.protocol import AuthMessage, BadMessage, parse_client_message

logger = logging.getLogger("kraliki.realtime")

CLOSE_TIMEOUT_SECONDS = 10.0
"""How long a closing connection may take to get its last messages out (a client that does
not read blocks them)."""

router = APIRouter(prefix="/realtime", tags=["realtime"])


IN_PROTOCOL = authenticates_itself(EVENTS_SUBSCRIBE.resource, EVENTS_SUBSCRIBE.action)


@router.websocket("", dependencies=[Depends(IN_PROTOCOL)])
async def realtime_websocket(websocket: WebSocket) -> None:
    hub: Hub = websocket.app.state.platform.realtime
    offered = list(websocket.scope.get("subprotocols") or ())
    # Never from the query string: URLs end up in access logs.
    token = next(
        (p.removeprefix(protocol.BEARER_SUBPROTOCOL) for p in offered if _is_bearer(p)), None
    )
    selected = protocol.SUBPROTOCOL if protocol.SUBPROTOCOL in offered else None
    await websocket.accept(subprotocol=selected)
    try:
        if hub.stopping:
            raise Refused(protocol.GOING_AWAY, "server shutting down")
        if token is None:
            token = await _first_message_token(websocket, hub)
        principal = await authenticate(hub.platform, token)
    except Refused as refused:
        await _close(websocket, refused.code, refused.message)
        return
    except WebSocketDisconnect:
        return
    subscriber = hub.connect(principal, token, "websocket")
    try:
        await _serve(hub, subscriber, websocket)
    finally:
        hub.disconnect(subscriber)


def _is_bearer(subprotocol: str) -> bool:
    return subprotocol.startswith(protocol.BEARER_SUBPROTOCOL) and len(subprotocol) > len(
        protocol.BEARER_SUBPROTOCOL
    )


async def _first_message_token(websocket: WebSocket, hub: Hub) -> str:
    timeout = hub.auth_timeout
    try:
        async with asyncio.timeout(timeout):
            message = await websocket.receive()
    except TimeoutError:
        raise Refused(
            protocol.UNAUTHENTICATED, f"send an auth message within {timeout:g} seconds"
        ) from None
    if message["type"] == "websocket.disconnect":
        raise WebSocketDisconnect(message.get("code", 1000))
    parsed = _parse(message)
    if not isinstance(parsed, AuthMessage):
        raise Refused(
            protocol.UNAUTHENTICATED,
            'authenticate first: {"type": "auth", "token": "..."} or the bearer subprotocol',
        )
    return parsed.token


def _parse(message: Mapping[str, Any]) -> AuthMessage | protocol.SubscribeMessage:
    text = message.get("text")
    if not isinstance(text, str):
        raise Refused(protocol.BAD_MESSAGE, "send JSON text messages")
    try:
        return parse_client_message(text)
    except BadMessage as exc:
        raise Refused(protocol.BAD_MESSAGE, str(exc)) from None


async def _serve(hub: Hub, subscriber: Subscriber, websocket: WebSocket) -> None:
    """Send and receive until the client leaves or the subscriber is closed."""
    tasks = [
        asyncio.create_task(_send(hub, subscriber, websocket)),
        asyncio.create_task(_receive(hub, subscriber, websocket)),
        asyncio.create_task(subscriber.closed.wait()),
    ]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        for outcome in await asyncio.gather(*tasks, return_exceptions=True):
            if isinstance(outcome, Exception) and not isinstance(outcome, WebSocketDisconnect):
                logger.error("real-time connection failed", exc_info=outcome)
    if subscriber.close_code is not None:
        await _close(websocket, subscriber.close_code, subscriber.close_reason)


async def _send(hub: Hub, subscriber: Subscriber, websocket: WebSocket) -> None:
    async for item in subscriber.outgoing(hub.heartbeat_seconds, lambda: hub.recheck(subscriber)):
        await websocket.send_text(item.text())


async def _receive(hub: Hub, subscriber: Subscriber, websocket: WebSocket) -> None:
    while True:
        message = await websocket.receive()
        if message["type"] == "websocket.disconnect":
            return
        try:
            parsed = _parse(message)
            if isinstance(parsed, AuthMessage):
                raise Refused(protocol.BAD_MESSAGE, "already authenticated")
        except Refused as refused:
            subscriber.close(refused.code, refused.message)
            return
        try:
            await hub.subscribe(subscriber, tuple(parsed.patterns), parsed.last_event_id)
        except Exception:
            logger.exception("a real-time subscription failed")
            subscriber.close(protocol.INTERNAL_ERROR, "could not subscribe; reconnect later")
            return


async def _close(websocket: WebSocket, code: int, message: str) -> None:
    """An ``error`` message saying why, then the close frame (the client may be gone, or
    not reading: bounded)."""
    with contextlib.suppress(Exception):
        async with asyncio.timeout(CLOSE_TIMEOUT_SECONDS):
            await websocket.send_text(protocol.error(code, message).text())
            await websocket.close(code, reason=message.encode()[:123].decode(errors="ignore"))
