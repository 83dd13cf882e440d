"""Cross-tenant checks for plugin authors' tests (re-exported by ``kernel.testing``).

``assert_tenant_isolation`` calls every route of an app (or of one plugin) as tenant A with
tenant B's ids in its path and body, and fails on anything of B coming back or changing.
``assert_rls_enabled`` checks that every tenant-owned table has forced row-level security
with the tenant policy. The project's own cross-tenant route walk is built on the first.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Collection, Mapping
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import Connection, inspect, select

from kernel._auth import api_routes, route_access
from kernel._models import Base
from kernel._platform import Platform
from kernel._rls import rls_status
from kernel._tenancy import is_tenant_owned, tenant_scope

UUID_RE = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
_BODY_DEFAULTS: dict[str, Any] = {
    "password": "isolation walk password 1",
    "owner_password": "isolation walk password 1",
    "number": "+15550009999",
}


async def tenant_models(platform: Platform, *, plugin: str | None = None) -> list[type]:
    """The tenant-owned model classes whose tables exist in the platform's database (models of
    plugins that other tests in the same process loaded are left out); with ``plugin``, only
    the models that plugin returns from ``kraliki_models``."""

    def table_names(connection: Connection) -> set[str]:
        return set(inspect(connection).get_table_names())

    async with platform.database.engine.connect() as connection:
        present = await connection.run_sync(table_names)
    own = set(platform.plugins.get(plugin).models) if plugin is not None else None
    return [
        mapper.class_
        for mapper in Base.registry.mappers
        if is_tenant_owned(mapper.class_)
        and mapper.persist_selectable.description in present
        and (own is None or mapper.class_ in own)
    ]


async def tenant_rows(
    platform: Platform, models: list[type], tenant_id: uuid.UUID
) -> dict[str, list[str]]:
    """Every row of the tenant in each model's table, as comparable strings (through the ORM,
    so the values read the same on both databases)."""
    snapshot: dict[str, list[str]] = {}
    with tenant_scope(tenant_id):
        async with platform.database.session() as session:
            for model in models:
                mapper = model.__mapper__  # type: ignore[attr-defined]
                keys = [attribute.key for attribute in mapper.column_attrs]
                objects = await session.scalars(select(mapper.class_))
                snapshot[mapper.local_table.name] = sorted(
                    json.dumps([getattr(obj, key) for key in keys], default=str) for obj in objects
                )
    return snapshot


async def _primary_keys(
    platform: Platform, models: list[type], tenant_id: uuid.UUID
) -> dict[str, str]:
    """One ``id`` of the tenant's rows in each table that has an ``id`` column."""
    keys: dict[str, str] = {}
    with tenant_scope(tenant_id):
        async with platform.database.session() as session:
            for model in models:
                mapper = model.__mapper__  # type: ignore[attr-defined]
                if "id" in mapper.columns:
                    first = await session.scalar(select(mapper.class_.id).limit(1))
                    if first is not None:
                        keys[mapper.local_table.name] = str(first)
    return keys


def _parent_of(param: str, keys: Mapping[str, str]) -> str | None:
    """An id of the table a parameter names (``call_id`` -> ``calls_calls``)."""
    stem = param.removesuffix("_id") + "s"
    return next((key for table, key in keys.items() if table.split("_")[-1] == stem), None)


def _ids(snapshot: Mapping[str, list[str]], tenant_id: uuid.UUID) -> dict[str, set[str]]:
    """The ids in each table's rows (the tenant's own id left out)."""
    return {
        table: {i for row in rows for i in re.findall(UUID_RE, row)} - {str(tenant_id)}
        for table, rows in snapshot.items()
    }


class _Bodies:
    """Plausible request bodies from the OpenAPI schema, aimed at the victim's ids."""

    def __init__(
        self, spec: dict[str, Any], victim_keys: Mapping[str, str], values: Mapping[str, Any]
    ) -> None:
        self.spec = spec
        self.victim_keys = victim_keys
        self.default_id = victim_keys.get("users") or next(iter(victim_keys.values()), "")
        self.values = {**_BODY_DEFAULTS, **values}

    def example(self, schema: dict[str, Any], name: str = "") -> Any:
        if "$ref" in schema:
            schema = self.spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
        for key in ("anyOf", "oneOf"):
            if key in schema:
                options = [s for s in schema[key] if s.get("type") != "null"]
                return self.example(options[0], name) if options else None
        if "examples" in schema:
            return schema["examples"][0]
        if "default" in schema and schema["default"] is not None:
            return schema["default"]
        if schema.get("enum"):
            return schema["enum"][0]
        kind = schema.get("type")
        if kind == "object":
            properties = schema.get("properties", {})
            chosen = [f for f in properties if f in schema.get("required", ())]
            chosen = chosen or [f for f in properties if f.endswith("_id")][:1]
            return {field: self.example(properties[field], field) for field in chosen}
        if kind == "array":
            return [self.example(schema.get("items", {}), name)]
        if kind == "boolean":
            return False
        if kind == "integer":
            return max(1, schema.get("minimum", 1))
        if schema.get("format") == "uuid":
            return _parent_of(name, self.victim_keys) or self.default_id
        if schema.get("format") == "email" or "email" in name:
            return f"walker@{uuid.uuid4().hex[:6]}.example.com"
        if name == "slug":
            return f"w{uuid.uuid4().hex[:8]}"
        return self.values.get(name, "walker")


async def assert_tenant_isolation(
    app: FastAPI,
    client: httpx.AsyncClient,
    *,
    attacker: Mapping[str, str],
    victim: uuid.UUID,
    plugin: str | None = None,
    victim_names: Collection[str] = (),
    path_values: Mapping[str, str] = {},
    body_values: Mapping[str, Any] = {},
    only: str | None = None,
) -> int:
    """Call every route of ``app`` (of ``plugin`` only, when given; or those whose path
    contains ``only``) with ``attacker``'s headers (a tenant A owner's ``Authorization``),
    with tenant ``victim``'s ids in every id position of the path and in the body's id
    fields, and fail (``AssertionError``) when:

    - a response contains one of the victim's ids (or a string of ``victim_names``: its
      slug, secrets) that the request did not send;
    - a path naming the victim's resource does not answer ``404`` (tenant-scoped
      permission) or an error (any other route);
    - a row of the victim's changed.

    The victim must have rows in every tenant-owned table walked (the test seeds them; the
    error names the empty ones). ``path_values`` holds path parameters that are names rather
    than ids (``{"name": "b-role"}``; a value in ``victim_names`` counts as the victim's);
    ``body_values`` fixes body fields by name. A route with a child under a parent
    (``/things/{thing_id}/parts/{id}``) is also called with A's own parent and B's child.
    Returns the number of requests made.
    """
    platform: Platform = app.state.platform
    models = await tenant_models(platform, plugin=plugin)
    attacker_tenant = await _attacker_tenant(client, attacker)
    a_keys = await _primary_keys(platform, models, attacker_tenant) if attacker_tenant else {}
    # Compare settled states: events published while seeding are dispatched and their hooks
    # run now, so that a request of A's that drains the outbox (or a background pass it
    # wakes) does not move B's cursors over B's own backlog in the middle of the walk.
    await platform.dispatcher.drain()
    before = await tenant_rows(platform, models, victim)
    empty = sorted(table for table, rows in before.items() if not rows)
    assert not empty, f"seed these tenant-owned tables for the victim tenant: {empty}"
    ids_by_table = _ids(before, victim)
    victim_ids: set[str] = set().union(*ids_by_table.values())
    # Two ids of each table's rows keep the walk short and still aim at every table.
    targets = [*sorted({i for ids in ids_by_table.values() for i in sorted(ids)[:2]}), str(victim)]
    victim_keys = {table: sorted(ids)[0] for table, ids in ids_by_table.items() if ids}
    spec = app.openapi()
    bodies = _Bodies(spec, victim_keys, body_values)
    checked = 0
    for route in api_routes(app):
        route_path: str = route.path or ""
        if only is not None and only not in route_path:
            continue
        permission, _reason = route_access(route)
        tenant_route = (
            permission is not None and platform.permissions.get(permission).scope == "tenant"
        )
        combos = _combos(route_path, targets, path_values, a_keys)
        for method in sorted(set(route.methods or ()) - {"HEAD", "OPTIONS"}):
            operation = spec["paths"].get(route_path, {}).get(method.lower(), {})
            if plugin is not None and plugin not in operation.get("tags", ()):
                continue
            content = operation.get("requestBody", {}).get("content", {})
            body_schema = content.get("application/json", {}).get("schema")
            for combo in combos:
                path = route_path
                for param, value in combo.items():
                    path = path.replace("{" + param + "}", value)
                body = bodies.example(body_schema) if body_schema else None
                response = await client.request(method, path, headers=attacker, json=body)
                checked += 1
                where = f"{method} {path} -> {response.status_code} {response.text[:300]}"
                sent = path + json.dumps(body)  # echoing what A sent leaks nothing
                leaked = {i for i in victim_ids if i in response.text and i not in sent}
                assert not leaked, f"B's ids {leaked} in {where}"
                named = [n for n in victim_names if n in response.text and n not in sent]
                assert not named, f"B named in {where}"
                aimed = set(combo.values()) & (victim_ids | {str(victim), *victim_names})
                if aimed:
                    if tenant_route:
                        assert response.status_code == 404, where
                    else:
                        assert response.status_code >= 400, where
    await platform.dispatcher.drain()
    after = await tenant_rows(platform, models, victim)
    changed = sorted(table for table in before if before[table] != after[table])
    assert not changed, f"A's requests changed B's rows in {changed}: " + _differences(
        before, after, changed
    )
    return checked


def _differences(
    before: Mapping[str, list[str]], after: Mapping[str, list[str]], tables: list[str]
) -> str:
    """The rows that changed in each table, as they were and as they are (for the failure
    message: what moved says which process moved it)."""
    lines = []
    for table in tables:
        was, now = set(before[table]), set(after[table])
        lines.append(f"{table}: was {sorted(was - now)[:2]}, now {sorted(now - was)[:2]}")
    return "; ".join(lines)[:3000]


def _combos(
    route_path: str, targets: list[str], fixed: Mapping[str, str], a_keys: Mapping[str, str]
) -> list[dict[str, str]]:
    """Path parameter values to try: every victim id in every id position (names held
    fixed), and for a child under a parent, A's own parent with the victim's child."""
    params = re.findall(r"{(\w+)}", route_path)
    if not params:
        return [{}]
    combos = [{p: fixed.get(p, value) for p in params} for value in targets]
    if all(p in fixed for p in params):
        combos = combos[:1]
    child, leading = params[-1], params[:-1]
    parents = {p: fixed.get(p) or _parent_of(p, a_keys) for p in leading}
    mixed = any(p not in fixed for p in leading) and child not in fixed
    if mixed and all(parents.values()):
        combos += [{**{p: v for p, v in parents.items() if v}, child: t} for t in targets]
    return combos


async def _attacker_tenant(
    client: httpx.AsyncClient, attacker: Mapping[str, str]
) -> uuid.UUID | None:
    """The attacker's tenant, from ``/auth/me`` (None for a credential without one)."""
    response = await client.get("/api/v1/auth/me", headers=dict(attacker))
    tenant = response.json().get("tenant") if response.status_code == 200 else None
    return uuid.UUID(tenant["id"]) if isinstance(tenant, dict) and "id" in tenant else None


async def assert_rls_enabled(platform: Platform, *, plugin: str | None = None) -> list[str]:
    """On PostgreSQL, fail unless every tenant-owned table (of ``plugin``, when given) has
    row-level security enabled and forced, with the kernel's tenant policy (what
    ``enable_tenant_rls`` in a migration does). Returns the tables checked; on SQLite, which
    has no row-level security, checks nothing and returns ``[]``."""
    if platform.database.dialect != "postgresql":
        return []
    tables = sorted(
        model.__table__.name  # type: ignore[attr-defined]
        for model in await tenant_models(platform, plugin=plugin)
    )
    async with platform.database.engine.connect() as connection:
        status = await connection.run_sync(rls_status, tables)
    missing = {t: status.get(t) for t in tables if status.get(t) != (True, True, 1)}
    assert not missing, (
        f"tenant-owned tables without forced row-level security and the tenant policy "
        f"(add enable_tenant_rls(...) after creating them): {sorted(missing)}"
    )
    return tables
