"""The OpenAPI document describes what the server sends, so that generated clients work:
problem+json errors with their types, distinct schema names, enums, security schemes and a
description on every operation and tag."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from kernel.testing import app_client

PROBLEM = "application/problem+json"
METHODS = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}
# A model's own name, or a generic one FastAPI spells like CursorPage_CallOut_.
SCHEMA_NAME = re.compile(r"[A-Z][A-Za-z0-9]*(_[A-Z][A-Za-z0-9]*_)*")


@pytest.fixture
async def spec(kraliki_app) -> dict[str, Any]:
    async with app_client(kraliki_app) as client:
        response = await client.get("/openapi.json")
    assert response.status_code == 200
    return dict(response.json())


def operations(spec: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method, path, operation)
        for path, item in spec["paths"].items()
        for method, operation in item.items()
        if method in METHODS
    ]


def test_schema_names_are_model_names_without_module_paths_or_duplicates(spec):
    names = list(spec["components"]["schemas"])
    # FastAPI resolves two models of one name by spelling their module paths
    # (plugins__ivr__schemas__SettingsBody) or by -Input/-Output suffixes: name models apart.
    assert [name for name in names if not SCHEMA_NAME.fullmatch(name)] == []
    lowered = [name.lower() for name in names]
    assert sorted({n for n in lowered if lowered.count(n) > 1}) == []


def test_every_reference_resolves(spec):
    text = json.dumps(spec)
    for ref in set(re.findall(r'"\$ref": "#/components/schemas/([^"]+)"', text)):
        assert ref in spec["components"]["schemas"], ref


def test_every_error_is_a_problem_with_its_types(spec):
    assert "HTTPValidationError" not in json.dumps(spec)
    for method, path, operation in operations(spec):
        responses = operation["responses"]
        assert "default" in responses, (method, path)
        for status, response in responses.items():
            if status[0] not in "45" and status != "default":
                continue
            schema = "ValidationProblem" if status == "422" else "Problem"
            assert response["content"] == {
                PROBLEM: {"schema": {"$ref": f"#/components/schemas/{schema}"}}
            }, (method, path, status)
            if status != "default":
                assert response["x-problem-types"], (method, path, status)


def test_routes_list_the_problems_they_answer(spec):
    get_call = spec["paths"]["/api/v1/calls/{call_id}"]["get"]["responses"]
    assert get_call["404"]["x-problem-types"] == [
        "/problems/calls-call-not-found",
        "/problems/not-found",
    ]
    assert "`/problems/calls-call-not-found`" in get_call["404"]["description"]
    assert get_call["401"]["x-problem-types"] == ["/problems/unauthenticated"]
    assert get_call["429"]["x-problem-types"] == ["/problems/rate-limited"]
    listing = spec["paths"]["/api/v1/calls"]["get"]["responses"]
    assert listing["400"]["x-problem-types"] == ["/problems/invalid-cursor"]
    place = spec["paths"]["/api/v1/calls"]["post"]["responses"]
    assert "/problems/idempotency-key-reused" in place["409"]["x-problem-types"]
    assert "/problems/calls-provider-unavailable" in place["503"]["x-problem-types"]
    assert {"/problems/calls-invalid-number", "/problems/calls-provider-refused"} <= set(
        place["422"]["x-problem-types"]
    )
    assert "/problems/validation-error" in place["422"]["x-problem-types"]


def test_protected_operations_name_the_security_schemes(spec):
    schemes = spec["components"]["securitySchemes"]
    assert {name: (s["type"], s["scheme"]) for name, s in schemes.items()} == {
        "accessToken": ("http", "bearer"),
        "apiKey": ("http", "bearer"),
    }
    for method, path, operation in operations(spec):
        public = "Public (no credential)" in operation["description"]
        if public:
            assert "security" not in operation, (method, path)
        else:
            assert operation["security"] == [{"accessToken": []}, {"apiKey": []}], (method, path)
            assert {"401", "403"} <= set(operation["responses"]), (method, path)
    assert "security" not in spec["paths"]["/api/v1/auth/login"]["post"]
    assert "security" in spec["paths"]["/api/v1/calls"]["get"]


def test_every_operation_and_tag_has_a_description(spec):
    assert spec["info"]["description"].strip()
    for method, path, operation in operations(spec):
        assert operation.get("description", "").strip(), (method, path)
    used = {tag for _, _, operation in operations(spec) for tag in operation.get("tags", ())}
    declared = {tag["name"]: tag.get("description", "") for tag in spec["tags"]}
    assert used == set(declared)
    assert [name for name, description in declared.items() if not description.strip()] == []
    listing = spec["paths"]["/api/v1/calls"]["get"]["description"]
    assert "Requires the permission `calls:read`." in listing


def test_statuses_and_kinds_are_enums(spec):
    schemas = spec["components"]["schemas"]
    assert set(schemas["CallStatus"]["enum"]) >= {"queued", "ringing", "completed", "no-answer"}
    call = schemas["CallOut"]["properties"]
    assert call["status"] == {"$ref": "#/components/schemas/CallStatus"}
    assert call["direction"] == {"$ref": "#/components/schemas/Direction"}
    capabilities = schemas["ProviderOut"]["properties"]["capabilities"]["items"]
    assert capabilities == {"$ref": "#/components/schemas/Capability"}
    parameters = {
        p["name"]: p["schema"] for p in spec["paths"]["/api/v1/calls"]["get"]["parameters"]
    }
    assert "#/components/schemas/CallStatus" in json.dumps(parameters["status"])
    assert "#/components/schemas/Direction" in json.dumps(parameters["direction"])


async def test_an_unknown_filter_value_is_a_validation_problem(
    kraliki_app, kraliki_authenticate, kraliki_make_tenant
):
    tenant = await kraliki_make_tenant("acme")
    kraliki_authenticate(kraliki_app, "calls:read", kind="user", tenant_id=tenant)
    async with app_client(kraliki_app) as client:
        wrong = await client.get("/api/v1/calls", params={"status": "ringing-ish"})
        right = await client.get(
            "/api/v1/calls", params={"status": "ringing", "direction": "inbound"}
        )
    assert wrong.status_code == 422
    assert wrong.headers["content-type"] == PROBLEM
    assert wrong.json()["type"] == "/problems/validation-error"
    assert [e["loc"] for e in wrong.json()["errors"]] == [["query", "status", 0]]
    assert right.status_code == 200, right.text
