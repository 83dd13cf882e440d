"""Kraliki kernel: the public API for plugins. Everything not exported here is internal.

A plugin is a module (or object) with functions marked ``@hookimpl`` named after the hooks in
:mod:`kernel.hookspecs`, registered under the ``kraliki.plugins`` entry-point group. The
plugin author guide is ``docs/plugins/guide.md``.
"""

from kernel._app import API_PREFIX, create_app
from kernel._auth import CurrentPrincipal, current_principal, public, require
from kernel._db import Database
from kernel._errors import (
    MissingRequirementError,
    PluginConflictError,
    PluginError,
    PluginLoadError,
    UnknownRevisionError,
)
from kernel._etags import if_match_allows
from kernel._events.bus import EventBus
from kernel._events.types import DeliveredEvent, Event
from kernel._events.types import check_pattern as event_pattern
from kernel._events.types import matches as matches_event
from kernel._hooks import HookCallError, Hooks
from kernel._idempotency.header import IdempotencyKeyHeader
from kernel._idempotency.service import Idempotency, IdempotencyClaim
from kernel._identity.audit import record_audit_event, source_address
from kernel._identity.erasure import pseudonym, pseudonymize_operator_audit
from kernel._identity.logins import TokenPair, open_login_session
from kernel._identity.lookup import tenant_user_exists, tenant_users_missing
from kernel._identity.provisioning import UserExistsError, add_user
from kernel._identity.routes.auth import PASSWORD_MIN as PASSWORD_MIN_LENGTH
from kernel._identity.throttle import AttemptThrottle, limit_attempts
from kernel._jobs.service import Jobs, JobTopic
from kernel._markers import CORE_ENTRY_POINT_GROUP, ENTRY_POINT_GROUP, hookimpl, hookspec
from kernel._models import (
    NAMING_CONVENTION,
    Base,
    TimestampMixin,
    UTCDateTime,
    UUIDPrimaryKeyMixin,
    utcnow,
)
from kernel._outbound import (
    OutboundPolicy,
    OutboundTarget,
    UrlRefusedError,
    check_outbound_url,
)
from kernel._pagination import CursorPage, PageParams, PageParamsDep, paginate
from kernel._platform import Platform, get_platform, open_platform
from kernel._principal import Principal
from kernel._problems import (
    RATE_LIMITED,
    ProblemError,
    ProblemType,
    define_problem,
    problem_response,
    problem_responses,
    raises,
)
from kernel._registry import UniqueRegistry
from kernel._resilience.classify import Classification, Classifier
from kernel._resilience.errors import (
    CircuitOpenError,
    DependencyError,
    RejectedError,
    TransientError,
)
from kernel._resilience.helper import Resilience
from kernel._rls import enable_tenant_rls
from kernel._settings import Settings
from kernel._shared.limits import AsyncAttemptThrottle, limit_attempts_async
from kernel._state import PluginStateError, StateKey
from kernel._storable import UnstorableValueError, storable_json, storable_text
from kernel._tenancy import (
    TenancyError,
    Tenant,
    TenantOwnedMixin,
    TenantStatus,
    current_tenant_id,
    tenant_scope,
)
from kernel._tenant_fk import tenant_foreign_key
from kernel._types import (
    BUILTIN_ROLES,
    MigrationSource,
    Permission,
    PluginDefinitionError,
    PluginInfo,
)
from kernel._vault.declarations import SecretCheck, SecretSpec, ValidationResult
from kernel._vault.keys import KeyProvider, KeyProviderError, WrappedKey
from kernel._vault.service import SecretAccessError, SecretUnavailableError, Vault, VaultError
from kernel._vault.values import SecretValue
from kernel._version import __version__
from kernel.deps import PlatformDep, SessionDep

__all__ = [
    "API_PREFIX",
    "BUILTIN_ROLES",
    "CORE_ENTRY_POINT_GROUP",
    "ENTRY_POINT_GROUP",
    "NAMING_CONVENTION",
    "PASSWORD_MIN_LENGTH",
    "RATE_LIMITED",
    "AsyncAttemptThrottle",
    "AttemptThrottle",
    "Base",
    "CircuitOpenError",
    "Classification",
    "Classifier",
    "CurrentPrincipal",
    "CursorPage",
    "Database",
    "DeliveredEvent",
    "DependencyError",
    "Event",
    "EventBus",
    "HookCallError",
    "Hooks",
    "Idempotency",
    "IdempotencyClaim",
    "IdempotencyKeyHeader",
    "JobTopic",
    "Jobs",
    "KeyProvider",
    "KeyProviderError",
    "MigrationSource",
    "MissingRequirementError",
    "OutboundPolicy",
    "OutboundTarget",
    "PageParams",
    "PageParamsDep",
    "Permission",
    "Platform",
    "PlatformDep",
    "PluginConflictError",
    "PluginDefinitionError",
    "PluginError",
    "PluginInfo",
    "PluginLoadError",
    "PluginStateError",
    "Principal",
    "ProblemError",
    "ProblemType",
    "RejectedError",
    "Resilience",
    "SecretAccessError",
    "SecretCheck",
    "SecretSpec",
    "SecretUnavailableError",
    "SecretValue",
    "SessionDep",
    "Settings",
    "StateKey",
    "TenancyError",
    "Tenant",
    "TenantOwnedMixin",
    "TenantStatus",
    "TimestampMixin",
    "TokenPair",
    "TransientError",
    "UTCDateTime",
    "UUIDPrimaryKeyMixin",
    "UniqueRegistry",
    "UnknownRevisionError",
    "UnstorableValueError",
    "UrlRefusedError",
    "UserExistsError",
    "ValidationResult",
    "Vault",
    "VaultError",
    "WrappedKey",
    "__version__",
    "add_user",
    "check_outbound_url",
    "create_app",
    "current_principal",
    "current_tenant_id",
    "define_problem",
    "enable_tenant_rls",
    "event_pattern",
    "get_platform",
    "hookimpl",
    "hookspec",
    "if_match_allows",
    "limit_attempts",
    "limit_attempts_async",
    "matches_event",
    "open_login_session",
    "open_platform",
    "paginate",
    "problem_response",
    "problem_responses",
    "pseudonym",
    "pseudonymize_operator_audit",
    "public",
    "raises",
    "record_audit_event",
    "require",
    "source_address",
    "storable_json",
    "storable_text",
    "tenant_foreign_key",
    "tenant_scope",
    "tenant_user_exists",
    "tenant_users_missing",
    "utcnow",
]
