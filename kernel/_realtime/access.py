"""Who may hold a real-time connection: the credential checked at connect and again on every
heartbeat (a revoked session, deactivated user, revoked key or suspended tenant is cut off)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from kernel._identity.authn import authenticate_token, recheck_principal
from kernel._principal import Principal
from kernel._problems import ProblemError
from kernel._realtime import protocol
from kernel._realtime.permissions import EVENTS_SUBSCRIBE

if TYPE_CHECKING:
    from kernel._platform import Platform


class Refused(Exception):
    """The connection may not (or no longer) stream; close it with ``code``."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


async def authenticate(platform: Platform, token: str) -> Principal:
    """The principal of a connecting client's credential, or :class:`Refused`."""
    try:
        async with platform.database.session() as session:
            principal = await authenticate_token(platform.identity, session, token)
    except ProblemError as exc:
        raise _refusal(exc) from None
    check_may_subscribe(principal)
    return principal


async def recheck(platform: Platform, principal: Principal, token: str) -> Principal:
    """The connection's principal as it stands now (roles re-read), or :class:`Refused`."""
    try:
        async with platform.database.session() as session:
            current = await recheck_principal(platform.identity, session, principal, token)
    except ProblemError as exc:
        raise _refusal(exc) from None
    check_may_subscribe(current)
    return current


def check_may_subscribe(principal: Principal) -> None:
    if principal.tenant_id is None:
        raise Refused(
            protocol.FORBIDDEN,
            "platform operators have no event stream: connect with a tenant's credential",
        )
    if not principal.can(EVENTS_SUBSCRIBE.resource, EVENTS_SUBSCRIBE.action):
        raise Refused(protocol.FORBIDDEN, f"this needs the permission {EVENTS_SUBSCRIBE.key!r}")


def _refusal(exc: ProblemError) -> Refused:
    code = {
        401: protocol.UNAUTHENTICATED,
        403: protocol.FORBIDDEN,
        429: protocol.TRY_AGAIN_LATER,
    }.get(exc.problem.status, protocol.INTERNAL_ERROR)
    return Refused(code, exc.detail or exc.problem.title)
