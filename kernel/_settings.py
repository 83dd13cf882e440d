"""Platform settings, read from ``KRALIKI_*`` environment variables (and ``.env``)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///./var/kraliki.db"
# A browser's Origin: scheme://host[:port], nothing else ("*" would expose every tenant's
# API to any page a signed-in user visits, since credentials are allowed).
_ORIGIN = re.compile(
    r"https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?|https?://\[[0-9A-Fa-f:.]+\](:[0-9]{1,5})?"
)


def normalize_database_url(url: str) -> str:
    """Map the URL schemes people type to the async drivers we ship, or refuse clearly."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        raise ValueError(f"database URL {url!r} has no scheme (expected sqlite or postgresql)")
    aliases = {
        "sqlite": "sqlite+aiosqlite",
        "sqlite+aiosqlite": "sqlite+aiosqlite",
        "postgres": "postgresql+asyncpg",
        "postgresql": "postgresql+asyncpg",
        "postgresql+asyncpg": "postgresql+asyncpg",
    }
    if scheme not in aliases:
        raise ValueError(
            f"database URL scheme {scheme!r} is not supported: use sqlite+aiosqlite:// "
            "or postgresql+asyncpg://"
        )
    return f"{aliases[scheme]}://{rest}"


class Settings(BaseSettings):
    """Every setting of the platform; each field is ``KRALIKI_<NAME>`` in the environment."""

    model_config = SettingsConfigDict(
        env_prefix="KRALIKI_", env_file=".env", extra="ignore", frozen=True
    )

    database_url: str = Field(
        default=DEFAULT_DATABASE_URL,
        description="Database the API uses: sqlite+aiosqlite:///path or "
        "postgresql+asyncpg://user@host/db (on PostgreSQL, the unprivileged app role).",
    )
    migration_database_url: str | None = Field(
        default=None,
        description="Database URL migrations run with (on PostgreSQL, the owner role); "
        "defaults to KRALIKI_DATABASE_URL.",
    )
    database_schema: str | None = Field(
        default=None,
        pattern=r"^[a-z_][a-z0-9_]{0,62}$",
        description="PostgreSQL schema to use (search_path); default: the server's default.",
    )
    database_pool_size: int = Field(default=10, ge=1, le=200)
    allow_rls_bypass: bool = Field(
        default=False,
        description="Start even when the PostgreSQL role of KRALIKI_DATABASE_URL is a "
        "superuser or has BYPASSRLS (row-level security then keeps no tenant apart).",
    )
    database_echo: bool = Field(default=False, description="Log every SQL statement.")
    plugins: Annotated[list[str] | None, NoDecode] = Field(
        default=None,
        description="Comma-separated plugin names to load; default: every installed plugin.",
    )
    cors_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Comma-separated origins (`https://app.example.com`) whose browser "
        "frontends may call the API (CORS, credentials allowed); default: none.",
    )
    cors_max_age_seconds: int = Field(
        default=600,
        ge=0,
        le=86400,
        description="How long browsers may cache a CORS preflight answer.",
    )
    host: str = Field(default="127.0.0.1", description="Address `kraliki serve` binds.")
    port: int = Field(default=8000, ge=1, le=65535, description="Port `kraliki serve` binds.")
    served_base_url: str | None = Field(
        default=None,
        description="The address `kraliki serve` serves the API on (http://host:port), set by "
        "`kraliki serve` itself for its workers; plugins that must reach the platform fall "
        "back to it (calls, when KRALIKI_CALLS_PUBLIC_BASE_URL is unset).",
    )
    shutdown_timeout_seconds: int = Field(
        default=8,
        ge=1,
        description="How long `kraliki serve`, told to stop (SIGTERM, SIGINT), lets requests "
        "still running finish before it cancels them; real-time streams are closed at once. "
        "Keep it below the process manager's stop timeout (Docker's is 10 s).",
    )
    bootstrap_email: str = Field(
        default="operator@localhost",
        description="E-mail of the platform operator account created on first start.",
    )
    bootstrap_password: SecretStr | None = Field(
        default=None,
        description="Its password; when unset, one is generated and printed once.",
    )
    log_level: str = Field(default="INFO", description="Python logging level.")
    log_format: Literal["json", "console"] = Field(
        default="json",
        description="`json`: one JSON object per line with trace, span and tenant ids, for "
        "log collectors (the default, so that production never ships unparsed text); "
        "`console`: one readable line per record, for a terminal (`make run` uses it).",
    )
    metrics_token: SecretStr | None = Field(
        default=None,
        description="Bearer token a Prometheus scraper sends to /metrics (at least 16 "
        "characters); unset: only platform operators may read /metrics.",
    )
    metrics_port: int | None = Field(
        default=None,
        ge=1,
        le=65535,
        description="Serve /metrics on this port instead of the API's (`kraliki serve`, one "
        "worker), for an internal network.",
    )
    jwt_secret: SecretStr | None = Field(
        default=None,
        description="Key that signs access tokens (at least 32 characters); every worker must "
        "share it. When unset, one is generated on first start and kept in the database.",
    )
    master_key: SecretStr | None = Field(
        default=None,
        description="Vault master key(s): base64url 32-byte keys, comma-separated, newest first "
        "(older ones only unwrap, during a KEK rotation). Generate one with "
        "`kraliki vault generate-key`. When unset, the key file is used.",
    )
    master_key_file: Path = Field(
        default=Path("var/master.key"),
        description="Key file read when KRALIKI_MASTER_KEY is unset; created with a new key "
        "(and a loud warning) when missing. Never stored in the database.",
    )
    vault_data_key_cache_size: int = Field(
        default=256, ge=0, description="Unwrapped tenant data keys each worker keeps in memory."
    )
    vault_data_key_cache_seconds: float = Field(
        default=300.0, ge=0, description="How long an unwrapped data key stays cached."
    )
    vault_secret_cache_size: int = Field(
        default=1024,
        ge=0,
        description="Decrypted secrets each worker keeps for hot paths such as provider "
        "webhook verification (0: reveal per use). Each fill is audited (docs/adr/0034).",
    )
    vault_secret_cache_seconds: float = Field(
        default=30.0,
        ge=0,
        le=60,
        description="How long a decrypted secret stays cached (at most 60 s; 0: not cached).",
    )
    vault_validation_timeout_seconds: float = Field(
        default=30.0, gt=0, description="Time a plugin's key validator may take in all."
    )
    access_token_ttl_seconds: int = Field(
        default=900, ge=30, le=86400, description="Lifetime of an access token."
    )
    refresh_token_ttl_seconds: int = Field(
        default=30 * 86400,
        ge=300,
        description="Lifetime of a login session (its refresh tokens rotate on every use).",
    )
    login_max_failures_per_account: int = Field(
        default=5,
        ge=1,
        description="Failed logins for one account within the window before it is throttled.",
    )
    login_max_failures_per_address: int = Field(
        default=30,
        ge=1,
        description="Failed logins from one source address within the window before it is "
        "throttled.",
    )
    login_failure_window_seconds: int = Field(
        default=900, ge=1, description="Window over which failed logins are counted."
    )
    rate_limit_tenant_per_minute: int = Field(
        default=6000,
        ge=0,
        description="API requests per minute per tenant and worker (0 turns the limit off).",
    )
    rate_limit_api_key_per_minute: int = Field(
        default=1200,
        ge=0,
        description="API requests per minute per API key and worker (0 turns the limit off).",
    )
    redis_url: SecretStr | None = Field(
        default=None,
        description="Redis that shares rate limits, login throttles and circuit breakers "
        "between workers and hosts (`redis://host:6379/0`); unset: each worker keeps its own.",
    )
    redis_prefix: str = Field(
        default="kraliki:",
        min_length=1,
        max_length=100,
        pattern=r"^[A-Za-z0-9_.:-]+$",
        description="Prefix of every Redis key this platform writes (one per deployment "
        "sharing a Redis).",
    )
    redis_timeout_seconds: float = Field(
        default=0.25,
        gt=0,
        le=10,
        description="Longest wait for Redis on one operation before falling back to this "
        "worker's own state.",
    )
    redis_retry_seconds: float = Field(
        default=5.0,
        gt=0,
        description="After Redis failed, how long each worker uses its own state before it "
        "tries Redis again.",
    )
    rbac_cache_tenants: int = Field(
        default=1024,
        ge=1,
        description="How many tenants' authorization policies each worker keeps in memory.",
    )
    outbound_timeout_seconds: float = Field(
        default=10.0, gt=0, description="Timeout of one attempt of an outbound call."
    )
    outbound_attempts: int = Field(
        default=3, ge=1, le=20, description="Attempts of an outbound call, the first included."
    )
    outbound_retry_max_wait_seconds: float = Field(
        default=30.0,
        ge=0,
        description="Longest wait between two attempts; also caps a dependency's Retry-After.",
    )
    background_workers: bool = Field(
        default=True,
        description="Run the event dispatcher and the job workers in this process (turn off "
        "in web workers when dedicated `kraliki worker` processes run them).",
    )
    events_batch_size: int = Field(
        default=200, ge=1, le=10000, description="Events one dispatcher pass delivers at most."
    )
    events_sweep_seconds: float = Field(
        default=30.0,
        gt=0,
        description="How often a dispatcher looks at every tenant for events no wake-up "
        "announced (a crashed worker's, a lost notification).",
    )
    events_retention_hours: float = Field(
        default=72.0,
        gt=0,
        description="How long dispatched events are kept for real-time clients to resume from.",
    )
    event_transport: Literal["postgres", "nats"] = Field(
        default="postgres",
        description="How dispatched events reach every worker's real-time hub: `postgres` "
        "(LISTEN/NOTIFY, then a read of the outbox) or `nats` (the outbox is relayed to a NATS "
        "JetStream stream every worker consumes; needs KRALIKI_NATS_URL and PostgreSQL).",
    )
    nats_url: SecretStr | None = Field(
        default=None,
        description="NATS server(s) for KRALIKI_EVENT_TRANSPORT=nats, comma-separated "
        "(nats://user:password@host:4222, tls://...); never logged.",
    )
    nats_stream: str = Field(
        default="KRALIKI_EVENTS",
        pattern=r"^[A-Za-z0-9_-]{1,64}$",
        description="JetStream stream the outbox is relayed to (created when missing).",
    )
    nats_subject_prefix: str = Field(
        default="kraliki.events",
        pattern=r"^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$",
        description="Subjects are `<prefix>.<tenant id>.<event type>`.",
    )
    jobs_poll_seconds: float = Field(
        default=1.0, gt=0, description="How often a job worker looks for due work."
    )
    jobs_lease_seconds: float = Field(
        default=300.0,
        gt=0,
        description="How long a claimed job stays with its worker before another may take it "
        "over (a crashed worker's).",
    )
    idempotency_ttl_hours: float = Field(
        default=24.0,
        gt=0,
        description="How long an Idempotency-Key and the answer stored with it are kept; a "
        "retry after that acts again.",
    )
    idempotency_lock_seconds: float = Field(
        default=60.0,
        gt=0,
        description="How long a request holds its Idempotency-Key while it runs; after that a "
        "retry presumes it dead and takes the key over. Longer than the slowest such route.",
    )
    realtime_buffer_events: int = Field(
        default=1000,
        ge=10,
        description="Events queued for one real-time connection before it is dropped as too slow.",
    )
    realtime_heartbeat_seconds: float = Field(
        default=20.0, gt=0, description="Interval of real-time heartbeats."
    )
    breaker_failure_threshold: int = Field(
        default=5,
        ge=1,
        description="Consecutive transient failures of one tenant's calls to one dependency "
        "that open its circuit breaker.",
    )
    breaker_reset_seconds: float = Field(
        default=30.0,
        gt=0,
        description="How long an open circuit breaker fails fast before it lets a trial call "
        "through (half-open).",
    )

    @field_validator("database_url", "migration_database_url")
    @classmethod
    def _normalize_url(cls, value: str | None) -> str | None:
        return None if value is None else normalize_database_url(value)

    @field_validator("redis_url", mode="before")
    @classmethod
    def _empty_redis_url_is_unset(cls, value: Any) -> Any:
        return None if value in ("", None) else value

    @field_validator("redis_url")
    @classmethod
    def _redis_scheme(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not value.get_secret_value().startswith(
            ("redis://", "rediss://", "unix://")
        ):
            raise ValueError("KRALIKI_REDIS_URL must start with redis://, rediss:// or unix://")
        return value

    @field_validator("bootstrap_password", mode="before")
    @classmethod
    def _empty_password_is_unset(cls, value: Any) -> Any:
        # An empty variable (common in compose files) means "generate one", never "".
        return None if value in ("", None) else value

    @field_validator("bootstrap_password")
    @classmethod
    def _password_long_enough(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < 12:
            raise ValueError("KRALIKI_BOOTSTRAP_PASSWORD must have at least 12 characters")
        return value

    @field_validator("jwt_secret", "master_key", "nats_url", mode="before")
    @classmethod
    def _empty_secret_is_unset(cls, value: Any) -> Any:
        return None if value in ("", None) else value

    @field_validator("jwt_secret")
    @classmethod
    def _secret_long_enough(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < 32:
            raise ValueError("KRALIKI_JWT_SECRET must have at least 32 characters")
        return value

    @field_validator("metrics_token", "metrics_port", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: Any) -> Any:
        return None if value in ("", None) else value

    @field_validator("metrics_token")
    @classmethod
    def _metrics_token_long_enough(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < 16:
            raise ValueError("KRALIKI_METRICS_TOKEN must have at least 16 characters")
        return value

    @field_validator("plugins", mode="before")
    @classmethod
    def _split_plugins(cls, value: Any) -> Any:
        if isinstance(value, str):
            names = [name.strip() for name in value.split(",")]
            return [name for name in names if name]
        return value

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [origin.strip() for origin in value.split(",") if origin.strip()]
        return value

    @field_validator("cors_origins")
    @classmethod
    def _origins_are_origins(cls, value: list[str]) -> list[str]:
        for origin in value:
            if not _ORIGIN.fullmatch(origin):
                raise ValueError(
                    f"KRALIKI_CORS_ORIGINS: {origin!r} is not an origin: give scheme, host and "
                    "port only, like https://app.example.com (no path, no trailing slash, no *)"
                )
        return value

    @model_validator(mode="after")
    def _nats_needs_a_url(self) -> Settings:
        if self.event_transport == "nats" and self.nats_url is None:
            raise ValueError("KRALIKI_EVENT_TRANSPORT=nats needs KRALIKI_NATS_URL")
        return self

    @property
    def owner_database_url(self) -> str:
        return self.migration_database_url or self.database_url

    @property
    def dialect(self) -> str:
        return "sqlite" if self.database_url.startswith("sqlite") else "postgresql"


def sqlite_path(url: str) -> Path | None:
    """The file behind a SQLite URL (None for in-memory or non-SQLite URLs)."""
    if not url.startswith("sqlite"):
        return None
    path = url.split(":///", 1)[1] if ":///" in url else ""
    if not path or path.startswith(":memory:"):
        return None
    return Path(path.split("?", 1)[0])
