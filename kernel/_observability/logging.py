"""Log formats: JSON lines for collectors, one readable line for a terminal; both redact.

"Redacted by construction": the formatters, not the call sites, decide what a value looks
like. A ``SecretStr``/``SecretBytes``, or any object with ``__kraliki_secret__ = True`` (the
vault's decrypted values), renders as ``**********`` wherever it appears (message, its
arguments, extra fields, nested containers), and an extra field named like a credential
(password, token, cookie, ...) is masked whatever its value.
"""

from __future__ import annotations

import copy
import json
import logging
import re
import sys
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import SecretBytes, SecretStr

from kernel._observability.tracing import current_trace_ids
from kernel._tenancy import current_tenant_id

MASK = "**********"
SECRET_MARKER = "__kraliki_secret__"  # noqa: S105 (an attribute name)

_CREDENTIAL_KEY = re.compile(
    r"password|passwd|passphrase|secret|token|authori[sz]ation|api_?key|(^|[_-])auth([_-]|$)"
    r"|cookie|credential|private_?key|signature",
    re.IGNORECASE,
)

# Attributes every LogRecord has; anything else came from ``extra=``.
_RECORD_FIELDS = frozenset(
    vars(logging.LogRecord("", 0, "", 0, "", (), None)).keys()
    | {"message", "asctime", "trace_id", "span_id", "tenant_id", "taskName", "color_message"}
)


def is_secret(value: object) -> bool:
    return (
        isinstance(value, SecretStr | SecretBytes) or getattr(value, SECRET_MARKER, False) is True
    )


def is_credential_key(key: object) -> bool:
    return isinstance(key, str) and _CREDENTIAL_KEY.search(key) is not None


def redact(value: Any, depth: int = 0) -> Any:
    """``value`` with every secret inside it replaced by the mask (containers copied, other
    values returned as they are)."""
    if is_secret(value):
        return MASK
    if depth > 8:  # a self-referencing structure: stop rather than recurse forever
        return value
    if isinstance(value, Mapping):
        return {k: MASK if is_credential_key(k) else redact(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        items = [redact(item, depth + 1) for item in value]
        return tuple(items) if isinstance(value, tuple) else items
    return value


def redact_query(target: str) -> str:
    """A request target with the values of credential-named query parameters masked
    (``/x?token=abc&page=2`` -> ``/x?token=**********&page=2``)."""
    path, question, query = target.partition("?")
    if not question:
        return target
    parts = []
    for part in query.split("&"):
        name, equals, _value = part.partition("=")
        parts.append(f"{name}={MASK}" if equals and is_credential_key(name) else part)
    return f"{path}?{'&'.join(parts)}"


def _redacted_message(record: logging.LogRecord) -> str:
    msg = MASK if is_secret(record.msg) else record.msg
    args = record.args
    if record.name == "uvicorn.access" and isinstance(args, tuple) and len(args) == 5:
        # (client, method, target, http version, status): a token in a query string
        args = (*args[:2], redact_query(str(args[2])), *args[3:])
    if args:
        args = redact(args) if isinstance(args, Mapping) else tuple(redact(a) for a in args)
        return str(msg) % args
    return str(msg)


def extra_fields(record: logging.LogRecord) -> dict[str, Any]:
    """The ``extra=`` fields of a record, redacted."""
    return {
        key: MASK if is_credential_key(key) else redact(value)
        for key, value in vars(record).items()
        if key not in _RECORD_FIELDS and not key.startswith("_")
    }


class ContextFilter(logging.Filter):
    """Stamps each record with the trace, span and tenant ids of the code that logged it
    (a handler filter runs in the logging call's context; a formatter might not)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "trace_id"):
            record.trace_id, record.span_id = current_trace_ids()
        if not hasattr(record, "tenant_id"):
            tenant = current_tenant_id()
            record.tenant_id = str(tenant) if tenant is not None else None
        return True


def _context(record: logging.LogRecord) -> tuple[str | None, str | None, str | None]:
    if hasattr(record, "trace_id"):
        return record.trace_id, getattr(record, "span_id", None), getattr(record, "tenant_id", None)
    trace_id, span_id = current_trace_ids()
    tenant = current_tenant_id()
    return trace_id, span_id, str(tenant) if tenant is not None else None


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ``time`` (UTC, ISO 8601), ``level``, ``logger``,
    ``message``, ``trace_id``, ``span_id``, ``tenant_id``, the extra fields, and
    ``exception``/``stack`` as strings."""

    def format(self, record: logging.LogRecord) -> str:
        trace_id, span_id, tenant_id = _context(record)
        payload: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": _redacted_message(record),
            "trace_id": trace_id,
            "span_id": span_id,
            "tenant_id": tenant_id,
        }
        for key, value in extra_fields(record).items():
            payload.setdefault(key, value)
        if record.exc_info:
            payload["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            payload["exception"] = record.exc_text
        if record.stack_info:
            payload["stack"] = self.formatStack(record.stack_info)
        return json.dumps(payload, default=_fallback, ensure_ascii=False)


def _fallback(value: Any) -> str:
    return MASK if is_secret(value) else str(value)


class ConsoleFormatter(logging.Formatter):
    """``time level logger: message key=value ... [trace=<id> tenant=<id>]``, redacted."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        safe = copy.copy(record)
        safe.msg, safe.args = _redacted_message(record), None
        line = super().format(safe)
        extras = " ".join(f"{k}={v}" for k, v in extra_fields(record).items())
        trace_id, _span_id, tenant_id = _context(record)
        ids = " ".join(
            f"{name}={value}"
            for name, value in (("trace", trace_id), ("tenant", tenant_id))
            if value
        )
        head, newline, tail = line.partition("\n")  # keep a traceback below the line
        suffix = "".join(f" {part}" for part in (extras, f"[{ids}]" if ids else "") if part)
        return head + suffix + newline + tail


class StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever ``sys.stderr`` is when a record comes (test runners and click's
    CliRunner swap it; a handler holding the old stream would write to a closed file)."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, _value: Any) -> None:
        pass


LogFormat = Literal["json", "console"]


def logging_config(level: str, log_format: LogFormat) -> dict[str, Any]:
    """A ``logging.config.dictConfig`` mapping: one stderr handler on the root logger, and
    uvicorn's loggers sent there (given to uvicorn as ``log_config`` too, so that every
    worker process applies it)."""
    formatter = JsonFormatter if log_format == "json" else ConsoleFormatter
    level = level.upper()
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"context": {"()": f"{__name__}.ContextFilter"}},
        "formatters": {"kraliki": {"()": f"{__name__}.{formatter.__name__}"}},
        "handlers": {
            "stderr": {
                "()": f"{__name__}.StderrHandler",
                "formatter": "kraliki",
                "filters": ["context"],
            }
        },
        "loggers": {
            # uvicorn's own handlers would bypass the format: propagate to the root instead.
            "uvicorn": {"handlers": [], "propagate": True},
            "uvicorn.error": {"handlers": [], "propagate": True},
            "uvicorn.access": {"handlers": [], "propagate": True},
            # Alembic announces its internal extension set-up at INFO on every run: noise.
            "alembic.runtime.plugins": {"level": "WARNING"},
            # httpx logs every outbound request's full URL at INFO; query strings can carry
            # API keys.
            "httpx": {"level": "WARNING"},
        },
        "root": {"handlers": ["stderr"], "level": level},
    }


def configure_logging(level: str, log_format: LogFormat) -> None:
    """Apply :func:`logging_config` to this process."""
    import logging.config

    logging.config.dictConfig(logging_config(level, log_format))
