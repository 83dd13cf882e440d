"""Alert rules and alerts as the API shows and takes them."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, model_validator

from plugins.supervisor.models import Alert, AlertRule, RuleKind, Severity


class AlertRuleCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100)
    kind: RuleKind
    threshold: float | None = Field(
        default=None,
        description="In the kind's unit: seconds (queue_longest_wait), percent "
        "(queue_service_level, campaign_abandonment), minutes (agent_break); none for "
        "provider_breaker_open and webhook_endpoint_disabled.",
    )
    subject_id: uuid.UUID | None = Field(
        default=None,
        description="One queue, campaign or agent (by the kind); null: all of them. Kinds "
        "about providers and webhook endpoints take none.",
    )
    severity: Severity = Severity.WARNING
    enabled: bool = True


class AlertRulePatch(BaseModel):
    """Only the fields sent change (`kind` does not: make another rule)."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=100)
    threshold: float | None = None
    subject_id: uuid.UUID | None = None
    severity: Severity | None = None
    enabled: bool | None = None

    @model_validator(mode="after")
    def _no_null_where_a_value_is_needed(self) -> AlertRulePatch:
        for name in ("name", "severity", "enabled"):
            if name in self.model_fields_set and getattr(self, name) is None:
                raise ValueError(f"{name} cannot be null")
        return self


class AlertRuleOut(BaseModel):
    id: uuid.UUID
    name: str
    kind: str
    threshold: float | None
    subject_id: uuid.UUID | None
    severity: str
    enabled: bool
    version: int
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, rule: AlertRule) -> AlertRuleOut:
        return cls(
            id=rule.id,
            name=rule.name,
            kind=rule.kind,
            threshold=rule.threshold,
            subject_id=rule.subject_id,
            severity=rule.severity,
            enabled=rule.enabled,
            version=rule.version,
            created_at=rule.created_at,
            updated_at=rule.updated_at,
        )


class SupervisorAlert(BaseModel):
    id: uuid.UUID
    rule_id: uuid.UUID
    kind: str
    severity: str
    subject_type: str = Field(description="queue, campaign, agent, provider or endpoint")
    subject_key: str = Field(description="The subject's id (a provider: its name).")
    subject_name: str
    status: str = Field(description="raised or cleared")
    value: float | None = Field(description="The figure, last seen while raised.")
    threshold: float | None
    message: str
    raised_at: datetime
    cleared_at: datetime | None

    @classmethod
    def of(cls, alert: Alert) -> SupervisorAlert:
        return cls(
            id=alert.id,
            rule_id=alert.rule_id,
            kind=alert.kind,
            severity=alert.severity,
            subject_type=alert.subject_type,
            subject_key=alert.subject_key,
            subject_name=alert.subject_name,
            status=alert.status,
            value=alert.value,
            threshold=alert.threshold,
            message=alert.message,
            raised_at=alert.raised_at,
            cleared_at=alert.cleared_at,
        )


class SupervisorAlertList(BaseModel):
    items: list[SupervisorAlert]
