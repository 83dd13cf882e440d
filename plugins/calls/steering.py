"""What steering a live call through its provider shares (a redirect, a supervisor's role
change): the call must be in progress, its provider must have the capabilities the request
needs (409 both), and the provider's failures become the same problems."""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator

from kernel import CircuitOpenError, DependencyError, Platform, ProblemError, RejectedError
from plugins.calls.models import Call
from plugins.calls.problems import (
    CALL_STATE_CONFLICT,
    CAPABILITY_MISSING,
    PROVIDER_REFUSED,
    PROVIDER_UNAVAILABLE,
)
from plugins.calls.provider import CallStatus, Capability, ProviderRefused, UnsupportedAction
from plugins.calls.registry import calls_state


def require_in_progress(call: Call, doing: str) -> None:
    """409 ``calls-call-state-conflict`` unless the call is answered and not over."""
    status = CallStatus(call.status)
    if status is not CallStatus.IN_PROGRESS:
        raise ProblemError(
            CALL_STATE_CONFLICT,
            f"cannot {doing} a call that is {status.value}",
            call_status=status.value,
        )


def require_capabilities(
    platform: Platform, call: Call, needed: Iterable[Capability], *, what: str
) -> None:
    """409 ``calls-capability-missing`` naming the first capability the call's provider
    lacks (``what`` says what it could not do)."""
    spec = calls_state(platform).providers.get(call.provider)
    for capability in needed:
        if capability not in spec.capabilities:
            raise ProblemError(
                CAPABILITY_MISSING, f"{call.provider} cannot {what}", capability=capability.value
            )


@contextlib.contextmanager
def provider_problems(provider: str, *, unsupported: str) -> Iterator[None]:
    """Turn what the provider raised into problems: 409 ``calls-capability-missing``
    (``capability`` = ``unsupported``), 422 ``calls-provider-refused``, 503
    ``calls-provider-unavailable``."""
    try:
        yield
    except UnsupportedAction as exc:
        raise ProblemError(CAPABILITY_MISSING, str(exc), capability=unsupported) from None
    except (ProviderRefused, RejectedError) as exc:
        detail = exc.detail if isinstance(exc, ProviderRefused) else str(exc)
        raise ProblemError(PROVIDER_REFUSED, detail) from None
    except CircuitOpenError:
        raise ProblemError(PROVIDER_UNAVAILABLE, f"{provider}'s circuit is open") from None
    except DependencyError:
        raise ProblemError(PROVIDER_UNAVAILABLE, f"{provider} did not answer") from None
