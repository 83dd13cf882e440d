"""The import contract: what a plugin (or ``tenants/``, or a plugin's tests) may import.

Rules (``docs/plugins/guide.md``, "What a plugin may import"; ADR 0023):

* the kernel's public API is every ``kernel`` module with no name component starting with
  ``_`` (``kernel``, ``kernel.testing``, ``kernel.deps``, ``kernel.hookspecs``); everything
  under a ``_`` component is private; ``kernel.testing`` is for test code only;
* a plugin's public API is its package (``plugins.calls``), plus ``plugins.calls.testing`` for
  test code; every other module of a plugin is private to it;
* a module imports its own package's modules freely (a plugin's tests count as its own);
* a core component (``tenants``) imports no plugin at all: plugins can be disabled, it cannot.

The import graph comes from grimp (the library import-linter is built on), which also sees
imports inside functions and ``TYPE_CHECKING`` blocks. This module only decides; the project's
test (``tests/test_import_contract.py``) and :func:`kernel.testing.assert_public_imports` apply
it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

import grimp

KERNEL = "kernel"
PLUGINS = "plugins"
_TEST_COMPONENTS = frozenset({"testing", "tests", "conftest"})


@dataclass(frozen=True)
class Scope:
    """What one importing module owns beyond the public APIs."""

    own: tuple[str, ...]
    """Packages whose private modules it may import (its own plugin, its own tests)."""
    test_code: bool = False
    """Test code may also import ``kernel.testing`` and ``plugins.<name>.testing``."""
    core: bool = False
    """A core component imports no plugin (plugins can be disabled; it cannot)."""


@dataclass(frozen=True)
class ImportViolation:
    """One import line that breaks the contract."""

    importer: str
    imported: str
    line: int
    code: str
    reason: str

    def __str__(self) -> str:
        return f"{self.importer}:{self.line}: {self.code}  -- {self.reason}"


def is_private(module: str) -> bool:
    """Whether a dotted name has a component starting with ``_`` (dunders aside)."""
    return any(
        part.startswith("_") and not (part.startswith("__") and part.endswith("__"))
        for part in module.split(".")
    )


def is_test_code(module: str) -> bool:
    """A module named ``testing``/``testing_*``/``tests``/``conftest``/``test_*`` or inside one
    (a plugin's test double may span ``testing.py`` and ``testing_<part>.py`` modules)."""
    return any(
        part in _TEST_COMPONENTS or part.startswith(("test_", "testing_"))
        for part in module.split(".")
    )


def within(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def refusal(scope: Scope, imported: str) -> str | None:
    """Why ``scope`` may not import ``imported``, or None when it may."""
    if any(within(imported, own) for own in scope.own):
        return None
    parts = imported.split(".")
    if parts[0] == KERNEL:
        if is_private(imported):
            return "kernel internals: import from `kernel` (or `kernel.testing` in tests)"
        if within(imported, "kernel.testing") and not scope.test_code:
            return "`kernel.testing` is for test code only"
        return None
    if parts[0] != PLUGINS or len(parts) == 1:
        return None
    plugin = ".".join(parts[:2])
    if scope.core:
        return f"a core component imports no plugin (`{plugin}` can be disabled)"
    if len(parts) == 2:
        return None
    if parts[2] == "testing":
        if scope.test_code:
            return None
        return f"`{plugin}.testing` is for test code only"
    return f"private module of a plugin: import from `{plugin}` (its public API)"


def import_graph(*packages: str) -> grimp.ImportGraph:
    """The graph of imports between the modules of ``packages`` (all importable by name)."""
    first, *rest = packages
    return grimp.build_graph(first, *rest, cache_dir=None)


def violations(
    graph: grimp.ImportGraph, modules: Iterable[str], scope_of: Callable[[str], Scope]
) -> list[ImportViolation]:
    """Every import line of ``modules`` that their scope refuses, sorted."""
    found: list[ImportViolation] = []
    for importer in modules:
        scope = scope_of(importer)
        for imported in graph.find_modules_directly_imported_by(importer):
            reason = refusal(scope, imported)
            if reason is None:
                continue
            for detail in graph.get_import_details(importer=importer, imported=imported):
                found.append(
                    ImportViolation(
                        importer,
                        imported,
                        int(detail["line_number"]),
                        str(detail["line_contents"]),
                        reason,
                    )
                )
    return sorted(found, key=lambda v: (v.importer, v.line, v.imported))


def package_scope(package: str) -> Callable[[str], Scope]:
    """The scope of a third-party plugin package: its own modules, test code by name."""

    def scope_of(module: str) -> Scope:
        return Scope(own=(package,), test_code=is_test_code(module))

    return scope_of


def package_violations(package: str) -> list[ImportViolation]:
    """The contract's violations in one importable package (a third-party plugin)."""
    graph = import_graph(package, KERNEL, PLUGINS)
    modules = sorted(m for m in graph.modules if within(m, package))
    return violations(graph, modules, package_scope(package))
