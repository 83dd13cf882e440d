"""Self-service sign-up: ``POST /api/v1/auth/register`` creates an organization (a tenant)
with its first owner and logs the owner in.

Off by default (``KRALIKI_SIGNUP_ENABLED``): a platform that sells accounts turns it on, one
whose operators hand out tenants leaves it off. Everything is written in one transaction (the
tenant, its settings, the owner, the owner's login session and the audit records), so a
failure leaves no half-created tenant; plugins seed their defaults after the commit, as for
tenants operators create.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, EmailStr, Field

from kernel import (
    PASSWORD_MIN_LENGTH,
    RATE_LIMITED,
    AsyncAttemptThrottle,
    Platform,
    PlatformDep,
    Principal,
    ProblemError,
    StateKey,
    TokenPair,
    define_problem,
    limit_attempts_async,
    open_login_session,
    problem_responses,
    public,
    record_audit_event,
    source_address,
    tenant_scope,
)
from tenants import service
from tenants.api import SLUG_PATTERN, SLUG_TAKEN
from tenants.config import SignupSettings

router = APIRouter(prefix="/auth", tags=["auth"])

SIGNUP_DISABLED = define_problem(
    "signup-disabled",
    "Sign-up is disabled",
    404,
    "This platform does not let organizations sign up by themselves; its operators create them.",
)


@dataclass(frozen=True)
class SignupState:
    settings: SignupSettings
    throttle: AsyncAttemptThrottle


SIGNUP = StateKey[SignupState]("tenants.signup")


def configure(platform: Platform) -> None:
    """Read the settings once per platform and start its attempt counter (shared by every
    worker when the platform has Redis)."""
    settings = SignupSettings()
    throttle = platform.attempt_throttle(
        "signup-address", settings.max_per_address, float(settings.window_seconds)
    )
    SIGNUP.set(platform, SignupState(settings, throttle))


class SignupRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    organization: str = Field(
        min_length=1, max_length=200, description="Display name of the organization."
    )
    slug: str = Field(
        pattern=SLUG_PATTERN,
        description="Short unique id of the organization, used at login (a-z, 0-9, -).",
    )
    email: EmailStr = Field(description="E-mail of the first owner (stored lower-cased).")
    password: str = Field(min_length=PASSWORD_MIN_LENGTH, max_length=1024)
    display_name: str = Field(default="", max_length=200, description="The owner's name.")


@router.post(
    "/register",
    response_model=TokenPair,
    status_code=201,
    dependencies=[Depends(public("self-service sign-up; off unless KRALIKI_SIGNUP_ENABLED"))],
    summary="Sign up: create an organization with its first owner and log the owner in",
    responses=problem_responses(SIGNUP_DISABLED, SLUG_TAKEN, RATE_LIMITED),
)
async def register(body: SignupRequest, request: Request, platform: PlatformDep) -> TokenPair:
    state = SIGNUP.get(platform)
    if not state.settings.enabled:
        raise ProblemError(SIGNUP_DISABLED)
    await limit_attempts_async(
        state.throttle,
        source_address(request),
        "too many sign-ups from this address; wait before trying again",
    )
    email = str(body.email).strip().lower()
    tenant_id = uuid.uuid4()
    with tenant_scope(tenant_id):
        async with platform.database.session() as session:
            try:
                tenant, owner_id = await service.provision(
                    session,
                    name=body.organization,
                    slug=body.slug,
                    owner_email=email,
                    owner_password=body.password,
                    owner_name=body.display_name,
                )
            except service.SlugTakenError:
                raise ProblemError(SLUG_TAKEN, f"the slug {body.slug!r} is taken") from None
            record_audit_event(
                session,
                service.SIGNUP_ACTOR,
                "tenant.created",
                request=request,
                target_type="tenant",
                target_id=tenant.id,
                tenant_id=tenant.id,
                details={"slug": tenant.slug, "name": tenant.name, "owner_email": email},
            )
            owner = Principal(subject=str(owner_id), kind="user", tenant_id=tenant.id, label=email)
            record_audit_event(
                session,
                owner,
                "tenant.signed_up",
                request=request,
                target_type="tenant",
                target_id=tenant.id,
            )
            pair = await open_login_session(
                platform, session, user_id=owner_id, tenant_id=tenant.id, request=request
            )
    await platform.hooks.tenant_created(platform, tenant.id)
    return pair
