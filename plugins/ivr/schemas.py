"""Request and response bodies of the IVR API."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from plugins.ivr.engine import Outcome
from plugins.ivr.flowdoc import FlowDocument
from plugins.ivr.simulator import Script, Simulation
from plugins.ivr.testcases import Expectation

VersionRef = Literal["draft", "current"] | int
"""Which flow to run: the draft, the published version calls run now, or a version number."""

NAME = Field(min_length=1, max_length=120)


class FlowCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = NAME
    description: str = Field(default="", max_length=2000)
    draft: FlowDocument | None = Field(
        default=None, description="The flow graph; default: a greeting and a hang-up."
    )


class FlowUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=120)
    description: str | None = Field(default=None, max_length=2000)
    draft: FlowDocument | None = None


class FlowOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    description: str
    draft: dict[str, Any]
    draft_revision: int
    current_version: int | None = Field(
        description="The published version new calls run (null: never published)."
    )
    created_at: datetime
    updated_at: datetime


class IssueOut(BaseModel):
    code: str
    node: str | None
    field: str | None
    message: str


class FlowValidationOut(BaseModel):
    valid: bool
    issues: list[IssueOut]


class PublishBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    note: str = Field(default="", max_length=500)


class RollbackBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: int = Field(ge=1)


class VersionOut(BaseModel):
    number: int
    published_at: datetime
    published_by: str | None
    note: str
    current: bool
    tests: dict[str, Any] | None = None


class VersionDetailOut(VersionOut):
    document: dict[str, Any]


class SimulateBody(Script):
    version: VersionRef = Field(
        default="draft", description="`draft`, `current` (what calls run now) or a number."
    )


class TestBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = NAME
    script: Script
    expect: Expectation


class TestUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=120)
    script: Script | None = None
    expect: Expectation | None = None


class TestOut(BaseModel):
    id: uuid.UUID
    flow_id: uuid.UUID
    name: str
    script: dict[str, Any]
    expect: dict[str, Any]
    last_run_at: datetime | None
    last_passed: bool | None


class RunBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: VersionRef = "draft"


class TestResultOut(BaseModel):
    test_id: uuid.UUID
    name: str
    passed: bool
    failures: list[str]
    path: list[str]
    outcome: Outcome


class RunOut(BaseModel):
    version: str
    passed: int
    failed: int
    results: list[TestResultOut]
    coverage: dict[str, Any]


class IvrSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    require_passing_tests: bool = Field(
        default=False,
        description="Publishing needs every saved test of the flow to pass against the draft.",
    )


class NodeTypeOut(BaseModel):
    name: str
    description: str
    waits: bool
    ends: bool
    schema_: dict[str, Any] = Field(alias="schema", serialization_alias="schema")


class SampleOut(BaseModel):
    name: str
    title: str
    description: str


SimulationOut = Simulation
