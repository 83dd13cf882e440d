"""``/api/v1/vault``: tenants' provider keys (write-only values), data keys, access log."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field, SecretStr
from sqlalchemy import select

from kernel._auth import require
from kernel._identity.audit import record_audit_event
from kernel._pagination import CursorPage, PageParamsDep, paginate
from kernel._principal import Principal
from kernel._problems import NOT_FOUND, ProblemError, define_problem
from kernel._vault import rotation
from kernel._vault.declarations import SecretKind, ValidationStatus
from kernel._vault.models import VaultAccessEvent, VaultSecret
from kernel._vault.permissions import (
    AUDIT_READ,
    KEYS_MANAGE,
    SECRETS_READ,
    SECRETS_VALIDATE,
    SECRETS_WRITE,
)
from kernel._vault.service import ManagedSecretError, UnknownSecretError
from kernel._vault.validation import run_validator
from kernel.deps import PlatformDep, SessionDep

UNKNOWN_SECRET = define_problem(
    "vault-unknown-secret",
    "Unknown secret",
    404,
    "No loaded plugin declares a secret of this name; GET /api/v1/vault/declarations lists "
    "the names the platform's plugins use.",
)
INVALID_SECRET_VALUE = define_problem(
    "vault-invalid-secret-value",
    "Invalid secret value",
    422,
    "The value cannot be this kind of secret (empty, too long, wrong format). The answer "
    "never quotes the value.",
)
NO_VALIDATOR = define_problem(
    "vault-no-validator",
    "Secret cannot be validated",
    409,
    "The plugin that declares this secret offers no way to test it against its provider.",
)
MANAGED_SECRET = define_problem(
    "vault-managed-secret",
    "Secret managed by its plugin",
    409,
    "The plugin that declares this secret generates and stores its values itself (a webhook "
    "endpoint's signing secret); change it through that plugin's API.",
)
router = APIRouter(prefix="/vault", tags=["vault"])
Reader = Annotated[Principal, Depends(require(SECRETS_READ.resource, SECRETS_READ.action))]
Writer = Annotated[Principal, Depends(require(SECRETS_WRITE.resource, SECRETS_WRITE.action))]
Validator = Annotated[
    Principal, Depends(require(SECRETS_VALIDATE.resource, SECRETS_VALIDATE.action))
]
KeyManager = Annotated[Principal, Depends(require(KEYS_MANAGE.resource, KEYS_MANAGE.action))]
SecretName = Annotated[str, Path(max_length=120, description="`<plugin>.<key>`")]


class SecretPut(BaseModel):
    model_config = ConfigDict(extra="forbid")

    value: SecretStr = Field(description="The key. Write-only: no answer ever contains it.")


class SecretOut(BaseModel):
    name: str
    kind: SecretKind
    plugin: str
    version: int = Field(description="Bumped on every replace.")
    fingerprint: str = Field(
        description="First 12 hex digits of the value's SHA-256, to recognise it."
    )
    created_at: datetime
    updated_at: datetime
    created_by: str | None
    updated_by: str | None
    last_used_at: datetime | None
    validation_status: ValidationStatus | None
    validation_detail: str | None
    validated_at: datetime | None


class DeclarationOut(BaseModel):
    name: str
    plugin: str
    kind: SecretKind
    description: str
    validatable: bool
    stored: bool
    managed: bool = Field(
        description="Values are generated and stored by the plugin, one per object "
        "(named <name>.<key>); not put through this API."
    )


class SecretValidationOut(BaseModel):
    name: str
    status: ValidationStatus
    detail: str
    validated_at: datetime | None


class DataKeyOut(BaseModel):
    version: int
    status: Literal["primary", "active", "retired"]
    kek_id: str
    created_at: datetime
    rewrapped_at: datetime | None
    retired_at: datetime | None


class RotationOut(BaseModel):
    primary_version: int
    resumed: bool = Field(description="An interrupted rotation was finished instead.")
    re_encrypted: int
    retired: int


class AccessEventOut(BaseModel):
    id: uuid.UUID
    occurred_at: datetime
    secret_name: str
    plugin: str
    purpose: str
    actor_kind: str | None
    actor_id: str | None
    job: str | None
    trace_id: str | None
    outcome: str


def _out(row: VaultSecret) -> SecretOut:
    return SecretOut.model_validate(row, from_attributes=True)


async def _stored(platform: PlatformDep, session: SessionDep, name: str) -> VaultSecret:
    row = await platform.vault.get(session, name)
    if row is None:
        raise ProblemError(NOT_FOUND, f"no secret named {name!r} is stored")
    return row


@router.get("/declarations", summary="The secrets the loaded plugins can use")
async def list_declarations(
    platform: PlatformDep, session: SessionDep, _: Reader
) -> list[DeclarationOut]:
    stored = {row.name for row in await platform.vault.list(session)}
    return [
        DeclarationOut(
            name=spec.name,
            plugin=spec.owner,
            kind=spec.kind,
            description=spec.description,
            validatable=spec.validator is not None,
            stored=spec.name in stored or any(n.startswith(f"{spec.name}.") for n in stored),
            managed=spec.managed,
        )
        for _key, _plugin, spec in sorted(platform.vault.specs.items())
    ]


@router.get("/secrets", summary="List stored secrets (never their values)")
async def list_secrets(platform: PlatformDep, session: SessionDep, _: Reader) -> list[SecretOut]:
    return [_out(row) for row in await platform.vault.list(session)]


@router.get("/secrets/{name}", summary="One stored secret's metadata (never its value)")
async def get_secret(
    platform: PlatformDep, session: SessionDep, _: Reader, name: SecretName
) -> SecretOut:
    return _out(await _stored(platform, session, name))


@router.put(
    "/secrets/{name}",
    summary="Store or replace a secret",
    responses={201: {"model": SecretOut, "description": "Stored for the first time"}},
)
async def put_secret(
    platform: PlatformDep,
    session: SessionDep,
    principal: Writer,
    name: SecretName,
    body: SecretPut,
    request: Request,
    response: Response,
) -> SecretOut:
    try:
        row, created = await platform.vault.put(
            session, name, body.value.get_secret_value(), actor=principal.subject
        )
    except UnknownSecretError as exc:
        raise ProblemError(UNKNOWN_SECRET, str(exc)) from None
    except ManagedSecretError as exc:
        raise ProblemError(MANAGED_SECRET, str(exc)) from None
    except ValueError as exc:
        raise ProblemError(INVALID_SECRET_VALUE, f"{name}: {exc}") from None
    record_audit_event(
        session,
        principal,
        "vault.secret.created" if created else "vault.secret.replaced",
        request=request,
        target_type="vault_secret",
        target_id=name,
        details={"fingerprint": row.fingerprint, "version": row.version},
    )
    await session.commit()
    response.status_code = 201 if created else 200
    return _out(row)


@router.delete("/secrets/{name}", status_code=204, summary="Delete a secret")
async def delete_secret(
    platform: PlatformDep,
    session: SessionDep,
    principal: Writer,
    name: SecretName,
    request: Request,
) -> Response:
    row = await _stored(platform, session, name)
    if platform.vault.spec(name).managed:
        raise ProblemError(MANAGED_SECRET, f"{name!r} is managed by the {row.plugin} plugin")
    await platform.vault.delete(session, name)
    record_audit_event(
        session,
        principal,
        "vault.secret.deleted",
        request=request,
        target_type="vault_secret",
        target_id=name,
        details={"fingerprint": row.fingerprint},
    )
    await session.commit()
    return Response(status_code=204)


@router.post(
    "/secrets/{name}/validate",
    summary="Test a stored key against its provider and record the result",
)
async def validate_secret(
    platform: PlatformDep,
    session: SessionDep,
    principal: Validator,
    name: SecretName,
    request: Request,
) -> SecretValidationOut:
    try:
        spec = platform.vault.spec(name)
    except UnknownSecretError as exc:
        raise ProblemError(UNKNOWN_SECRET, str(exc)) from None
    if spec.validator is None:
        raise ProblemError(NO_VALIDATOR, f"{spec.owner} offers no validator for {name}")
    tenant_id = principal.tenant_id
    assert tenant_id is not None
    await _stored(platform, session, name)
    await session.rollback()  # reveal writes its access record in its own transaction
    value = await platform.vault.reveal(
        name, plugin=spec.owner, purpose="validate", principal=principal
    )
    if value is None:
        raise ProblemError(NOT_FOUND, f"no secret named {name!r} is stored")
    outcome = await run_validator(
        platform.vault, spec, value, tenant_id=tenant_id, principal=principal, platform=platform
    )
    row = await platform.vault.mark_validated(session, name, outcome.status, outcome.detail)
    record_audit_event(
        session,
        principal,
        "vault.secret.validated",
        request=request,
        target_type="vault_secret",
        target_id=name,
        outcome="success" if outcome.status == "valid" else "failure",
        details={"status": outcome.status},
    )
    await session.commit()
    return SecretValidationOut(
        name=name,
        status=outcome.status,
        detail=outcome.detail,
        validated_at=row.validated_at if row is not None else None,
    )


@router.get("/keys", summary="The organization's data keys (wrapped; never shown)")
async def list_data_keys(
    platform: PlatformDep, session: SessionDep, _: KeyManager
) -> list[DataKeyOut]:
    keys = await platform.vault.data_keys_of_tenant(session)
    return [DataKeyOut.model_validate(key, from_attributes=True) for key in keys]


@router.post(
    "/keys/rotate",
    summary="Rotate the organization's data key and re-encrypt every secret (online)",
)
async def rotate_data_key(
    platform: PlatformDep, session: SessionDep, principal: KeyManager, request: Request
) -> RotationOut:
    tenant_id = principal.tenant_id
    assert tenant_id is not None
    await session.rollback()  # the rotation commits batch by batch in its own sessions
    report = await rotation.rotate_data_key(platform.vault, tenant_id)
    record_audit_event(
        session,
        principal,
        "vault.data_key.rotated",
        request=request,
        target_type="vault_data_key",
        target_id=str(report.primary_version),
        details={"re_encrypted": report.re_encrypted, "resumed": report.resumed},
    )
    await session.commit()
    return RotationOut(
        primary_version=report.primary_version,
        resumed=report.resumed,
        re_encrypted=report.re_encrypted,
        retired=report.retired,
    )


@router.get(
    "/audit",
    response_model=CursorPage[AccessEventOut],
    summary="Every decryption of the organization's secrets, newest first",
    dependencies=[Depends(require(AUDIT_READ.resource, AUDIT_READ.action))],
)
async def list_access_events(
    session: SessionDep,
    page: PageParamsDep,
    secret: Annotated[str | None, Query(max_length=120, description="One secret's name.")] = None,
    plugin: Annotated[str | None, Query(max_length=63)] = None,
    since: Annotated[datetime | None, Query(description="Inclusive, ISO 8601.")] = None,
) -> CursorPage[AccessEventOut]:
    statement = select(VaultAccessEvent)
    if secret:
        statement = statement.where(VaultAccessEvent.secret_name == secret)
    if plugin:
        statement = statement.where(VaultAccessEvent.plugin == plugin)
    if since:
        statement = statement.where(VaultAccessEvent.occurred_at >= since)
    rows, cursor = await paginate(
        session,
        statement,
        order_by=[VaultAccessEvent.occurred_at, VaultAccessEvent.id],
        params=page,
    )
    return CursorPage(
        items=[AccessEventOut.model_validate(row, from_attributes=True) for row in rows],
        next_cursor=cursor,
    )
