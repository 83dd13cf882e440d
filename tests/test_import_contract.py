"""The import contract (ADR 0023): plugins, ``tenants/`` and their tests import only public APIs.

Public: the kernel modules without a ``_`` component (``kernel``, ``kernel.testing`` for
tests, ``kernel.deps``, ``kernel.hookspecs``) and each plugin's package (``plugins.calls``),
with ``plugins.<name>.testing`` for test code. A plugin imports its own modules freely; the
tests under ``tests/plugins/<name>/`` count as that plugin's own (white-box for it, black-box
for everything else). ``tenants`` imports no plugin. The exceptions are all listed here.
"""

from __future__ import annotations

import ast
import re
import textwrap
from pathlib import Path

import pytest

from kernel._import_contract import (
    ImportViolation,
    Scope,
    import_graph,
    is_test_code,
    refusal,
    violations,
    within,
)
from kernel.testing import assert_public_imports

ROOT = Path(__file__).resolve().parent.parent

WHITE_BOX: dict[str, str] = {
    "kernel": "the kernel itself (its own internals)",
    "tests.kernel": "tests of the kernel's internals",
    "tests.isolation": "walks every route and tenant table through the kernel's introspection",
    "tests.fuzz": "seeds rows of any plugin's tables to fuzz the whole API",
    "tests.test_docs": "checks the docs against internals (event catalog, the built platform)",
    "tests.test_import_contract": "tests the contract's own machinery",
    "tests.tenants.test_purge_personal_data": "reads every table: a purge leaves no personal data",
    "tests.suite_plugins": "picks this project's plugins among every installed one by distribution",
    "benchmarks": "measure kernel internals (engines, migrations, the outbox) directly",
}
"""Modules that may import anything, each with the reason."""

_PENDING: dict[str, str] = {}
"""Modules not held to the contract yet; each entry must still need it (see below)."""

CHECKED = ("plugins", "tenants", "tests", "benchmarks")


def project_scope(module: str) -> Scope:
    """What a module of this repository owns beyond the public APIs."""
    parts = module.split(".")
    if parts[0] == "plugins" and len(parts) > 1:
        plugin = ".".join(parts[:2])
        return Scope(own=(plugin,), test_code=is_test_code(module))
    if parts[0] == "tenants":
        return Scope(own=("tenants",), core=True)
    if parts[:2] == ["tests", "plugins"] and len(parts) > 2:
        return Scope(own=(f"plugins.{parts[2]}", ".".join(parts[:3])), test_code=True)
    if parts[:2] == ["tests", "tenants"]:
        return Scope(own=("tenants", "tests.tenants"), test_code=True)
    return Scope(own=(), test_code=parts[0] == "tests")


def _exempt(module: str, exemptions: dict[str, str]) -> bool:
    return any(within(module, name) for name in exemptions)


@pytest.fixture(scope="module")
def project_violations() -> list[ImportViolation]:
    graph = import_graph("kernel", *CHECKED)
    modules = sorted(m for m in graph.modules if not _exempt(m, WHITE_BOX))
    return violations(graph, modules, project_scope)


def test_the_tree_keeps_the_contract(project_violations: list[ImportViolation]) -> None:
    found = [str(v) for v in project_violations if not _exempt(v.importer, _PENDING)]
    assert found == [], "\n".join(found)


def test_every_pending_exemption_is_still_needed(
    project_violations: list[ImportViolation],
) -> None:
    complying = [
        name for name in _PENDING if not any(within(v.importer, name) for v in project_violations)
    ]
    assert complying == [], f"these comply now: remove them from _PENDING: {complying}"


def test_every_white_box_exemption_names_modules_that_exist() -> None:
    graph = import_graph("kernel", *CHECKED)
    missing = [name for name in WHITE_BOX if not any(within(m, name) for m in graph.modules)]
    assert missing == []


def test_the_kernel_imports_no_plugin() -> None:
    """Dependencies point one way: the kernel finds plugins through entry points only."""
    graph = import_graph("kernel", "plugins", "tenants")
    found = [
        f"{importer} -> {imported}"
        for importer in sorted(m for m in graph.modules if within(m, "kernel"))
        for imported in graph.find_modules_directly_imported_by(importer)
        if within(imported, "plugins") or within(imported, "tenants")
    ]
    assert found == []


@pytest.mark.parametrize(
    ("importer", "imported", "refused"),
    [
        ("plugins.ivr.engine", "kernel", False),
        ("plugins.ivr.engine", "kernel.deps", False),
        ("plugins.ivr.engine", "kernel._db", True),
        ("plugins.ivr.engine", "kernel._events.models", True),
        ("plugins.ivr.engine", "kernel.testing", True),
        ("plugins.ivr.testing", "kernel.testing", False),
        ("plugins.ivr.engine", "plugins.ivr.nodes", False),
        ("plugins.ivr.engine", "plugins.calls", False),
        ("plugins.ivr.engine", "plugins.calls.provider", True),
        ("plugins.ivr.engine", "plugins.calls.testing", True),
        ("plugins.ivr.testing", "plugins.calls.testing", False),
        ("tests.plugins.ivr.test_x", "plugins.ivr.engine", False),
        ("tests.plugins.ivr.test_x", "plugins.calls.models", True),
        ("tests.plugins.ivr.test_x", "plugins.twilio.testing", False),
        ("tests.plugins.ivr.test_x", "kernel._jobs.models", True),
        ("tenants.api", "kernel", False),
        ("tenants.api", "tenants.models", False),
        ("tenants.api", "plugins.calls", True),
        ("tests.tenants.test_x", "tenants.service", False),
        ("tests.tenants.test_x", "plugins.calls", False),
        ("tests.conftest", "kernel._cli", True),
        ("tests.conftest", "kernel.testing", False),
    ],
)
def test_project_rules(importer: str, imported: str, refused: bool) -> None:
    assert (refusal(project_scope(importer), imported) is not None) is refused


def _write_package(root: Path, files: dict[str, str]) -> None:
    for name, source in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(source))


def test_a_third_party_package_is_checked_in_one_call(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every kind of violation is caught, on its line; what the contract allows is not."""
    _write_package(
        tmp_path / "acme_contract_probe",
        {
            "__init__.py": "from kernel import hookimpl\nfrom . import good\n",
            "good.py": """\
                from typing import TYPE_CHECKING

                import kernel.deps
                from kernel import Platform
                from plugins.calls import CallStatus
                from plugins.ivr import NodeType

                from acme_contract_probe import models
                """,
            "models.py": "import sqlalchemy\n",
            "private_kernel.py": "from kernel._db import make_engine\n",
            "private_by_name.py": "from kernel import _passwords\n",
            "lazy.py": """\
                def later():
                    from kernel._events.models import EventRecord
                    return EventRecord
                """,
            "typing_only.py": """\
                from typing import TYPE_CHECKING

                if TYPE_CHECKING:
                    from kernel._platform import Platform
                """,
            "other_plugin.py": "import plugins.calls.registry\n",
            "other_plugin_from.py": "from plugins.ivr.engine import FlowRunner\n",
            "tests_helpers_in_production.py": "from kernel.testing import login\n",
            "calls_testing_in_production.py": "from plugins.calls.testing import call_events\n",
            "testing.py": """\
                from kernel.testing import login
                from plugins.calls.testing import call_events
                """,
        },
    )
    monkeypatch.syspath_prepend(str(tmp_path))

    with pytest.raises(AssertionError) as failure:
        assert_public_imports("acme_contract_probe")

    reported = {line.split(":")[0].strip() for line in str(failure.value).splitlines()[1:]}
    assert reported == {
        f"acme_contract_probe.{name}"
        for name in (
            "private_kernel",
            "private_by_name",
            "lazy",
            "typing_only",
            "other_plugin",
            "other_plugin_from",
            "tests_helpers_in_production",
            "calls_testing_in_production",
        )
    }
    assert "acme_contract_probe.lazy:2: from kernel._events.models import EventRecord" in str(
        failure.value
    )
    assert "import from `plugins.calls` (its public API)" in str(failure.value)

    allowed = [
        "acme_contract_probe.private_kernel",
        "acme_contract_probe.private_by_name",
        "acme_contract_probe.lazy",
        "acme_contract_probe.typing_only",
        "acme_contract_probe.other_plugin",
        "acme_contract_probe.other_plugin_from",
        "acme_contract_probe.tests_helpers_in_production",
        "acme_contract_probe.calls_testing_in_production",
    ]
    assert_public_imports("acme_contract_probe", allow=allowed)


def test_the_integrators_plugin_keeps_the_contract(acme_distribution: Path) -> None:
    assert_public_imports("acme_blocklist")


def _raw_state_lookups(path: Path, root: Path = ROOT) -> list[str]:
    """``<...>platform.state`` expressions: plugin state goes through ``kernel.StateKey``."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if not (isinstance(node, ast.Attribute) and node.attr == "state"):
            continue
        owner = node.value
        name = owner.id if isinstance(owner, ast.Name) else getattr(owner, "attr", "")
        if name == "platform":
            found.append(f"{path.relative_to(root)}:{node.lineno}")
    return found


def test_plugins_keep_state_through_state_keys() -> None:
    found = [
        hit
        for folder in ("plugins", "tenants")
        for path in sorted((ROOT / folder).rglob("*.py"))
        for hit in _raw_state_lookups(path)
    ]
    assert found == [], "use a kernel.StateKey instead of platform.state: " + ", ".join(found)


def test_the_state_scan_finds_raw_lookups(tmp_path: Path) -> None:
    source = tmp_path / "plugin.py"
    source.write_text(
        "def f(platform, ctx):\n"
        "    a = platform.state['calls']\n"
        "    ctx.platform.state.setdefault('x', 1)\n"
        "    return request.app.state.platform\n"
    )
    hits = [hit.rsplit(":", 1)[1] for hit in _raw_state_lookups(source, tmp_path)]
    assert hits == ["2", "3"]


_PENDING_DOCS: dict[str, str] = {}
"""Documents whose examples may still import private modules; each must still need it."""

_CODE_BLOCK = re.compile(r"^```python\n(.*?)^```", re.MULTILINE | re.DOTALL)


def _documented_imports(text: str) -> list[str]:
    """The modules imported by the ``python`` code blocks of a Markdown text."""
    found = []
    for block in _CODE_BLOCK.findall(text):
        try:
            tree = ast.parse(block)
        except SyntaxError:
            continue  # an excerpt with ``...``; its imports are checked where it parses
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                found.extend(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                found.append(node.module)
                found.extend(f"{node.module}.{alias.name}" for alias in node.names)
    return found


_OWNED_BLOCK = re.compile(r"^# plugins/(\w+)/")


def _reader_of(block: str) -> Scope:
    """Who an example is written as: a block headed ``# plugins/<x>/...`` shows plugin x's own
    code, which may import x's modules; any other block is a plugin author's (or test's)."""
    owner = _OWNED_BLOCK.match(block)
    return Scope(own=(f"plugins.{owner[1]}",) if owner else (), test_code=True)


def _docs_violations() -> dict[str, list[str]]:
    """Private imports that the docs' examples teach, by document (a plugin author's scope)."""
    public_and_private = import_graph("kernel", "plugins").modules
    found: dict[str, list[str]] = {}
    for path in [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]:
        wrong = [
            name
            for block in _CODE_BLOCK.findall(path.read_text())
            for name in _documented_imports(f"```python\n{block}```\n")
            if (name in public_and_private or name.startswith("kernel."))
            and refusal(_reader_of(block), name) is not None
        ]
        if wrong:
            found[str(path.relative_to(ROOT))] = wrong
    return found


def test_the_docs_teach_only_public_imports() -> None:
    found = {doc: names for doc, names in _docs_violations().items() if doc not in _PENDING_DOCS}
    assert found == {}
    still_needed = _docs_violations()
    assert [doc for doc in _PENDING_DOCS if doc not in still_needed] == []


def test_the_docs_scan_sees_imports() -> None:
    text = (
        "```python\nfrom kernel._db import make_engine\nimport plugins.calls.registry\n"
        "from plugins.calls import CallStatus\n```\n"
    )
    assert sorted(_documented_imports(text)) == [
        "kernel._db",
        "kernel._db.make_engine",
        "plugins.calls",
        "plugins.calls.CallStatus",
        "plugins.calls.registry",
    ]
