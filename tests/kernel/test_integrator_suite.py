"""Installing third-party plugins beside the built-ins leaves this project's suite green.

Two distributions are installed the way an installer would (a ``.dist-info`` with the
``kraliki.plugins`` entry point on ``PYTHONPATH``): the guide's example ``acme_blocklist``
and ``globex_tags``, written here, which nothing in this repository knows. Then the tests
that list plugins or tables (CLI, system API, tenant self-service, migrations round trip)
run in a pytest subprocess, and so does the example distribution's own isolation test
(``kernel.testing.assert_tenant_isolation``), from its own directory as its author would.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from suite_plugins import expose_distribution

REPOSITORY = Path(__file__).parents[2]

GLOBEX_FILES = {
    "pyproject.toml": """\
[project]
name = "globex-kraliki-tags"
version = "0.1.0"
description = "Tags on nothing in particular (a plugin this repository does not know)."

[project.entry-points."kraliki.plugins"]
globex_tags = "globex_tags"
""",
    "src/globex_tags/__init__.py": """\
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends
from sqlalchemy import String, select
from sqlalchemy.orm import Mapped, mapped_column

from kernel import (
    Base, MigrationSource, Permission, PluginInfo, Principal, SessionDep, TenantOwnedMixin,
    UUIDPrimaryKeyMixin, hookimpl, require,
)

READ = Permission("globex_tags.tags", "read", "See tags.", ("admin",))
router = APIRouter()


class Tag(TenantOwnedMixin, UUIDPrimaryKeyMixin, Base):
    __tablename__ = "globex_tags_tags"
    label: Mapped[str] = mapped_column(String(40))


@router.get("/tags")
async def tags(
    session: SessionDep, _: Annotated[Principal, Depends(require("globex_tags.tags", "read"))]
) -> list[str]:
    return [tag.label for tag in await session.scalars(select(Tag))]


@hookimpl
def kraliki_plugin_info():
    return PluginInfo(name="globex_tags", version="0.1.0", requires=("calls",))


@hookimpl
def kraliki_permissions():
    return [READ]


@hookimpl
def kraliki_models():
    return [Tag]


@hookimpl
def kraliki_routes():
    return [router]


@hookimpl
def kraliki_migrations():
    return MigrationSource(Path(__file__).parent / "versions")
""",
    "src/globex_tags/versions/globex_tags_0001_tags.py": """\
import sqlalchemy as sa
from alembic import op

from kernel import enable_tenant_rls

revision = "globex_tags_0001"
down_revision = None
branch_labels = ("globex_tags",)
depends_on = ("kernel_0002",)


def upgrade() -> None:
    op.create_table(
        "globex_tags_tags",
        sa.Column("tenant_id", sa.Uuid(), sa.ForeignKey("tenants.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("label", sa.String(40), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_globex_tags_tags")),
    )
    enable_tenant_rls("globex_tags_tags")


def downgrade() -> None:
    op.drop_table("globex_tags_tags")
""",
}

SUITES = [
    "tests/kernel/test_cli.py",
    "tests/plugins/system/test_api.py",
    "tests/tenants/test_tenant_self_service.py",
    "tests/kernel/test_migrations.py::test_upgrade_downgrade_upgrade_round_trip",
    "tests/isolation/test_rls.py",  # PostgreSQL only: skipped on the SQLite run
]


@pytest.fixture(scope="module")
def globex_paths(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The unknown distribution's project and a site dir exposing it: (site, src)."""
    project = tmp_path_factory.mktemp("globex") / "globex_tags_dist"
    for name, content in GLOBEX_FILES.items():
        (project / name).parent.mkdir(parents=True, exist_ok=True)
        (project / name).write_text(content)
    site = project.parent / "site"
    expose_distribution(project, site, top_level="globex_tags")
    return site, project / "src"


def _pytest(args: list[str], *, cwd: Path, paths: list[Path]) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items() if key != "KRALIKI_PLUGINS"}
    env["PYTHONPATH"] = os.pathsep.join(str(path) for path in paths)
    env.pop("PYTEST_XDIST_WORKER", None)
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-n", "0", *args]
    return subprocess.run(
        command, cwd=cwd, env=env, capture_output=True, text=True, timeout=300, check=False
    )


@pytest.mark.own_sqlite_database  # once a run: the suites it runs also run on PostgreSQL
def test_the_suite_stays_green_with_third_party_plugins_installed(
    acme_distribution_paths, globex_paths
):
    paths = [*acme_distribution_paths, *globex_paths]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(str(path) for path in paths)}
    listed = subprocess.run(
        [str(Path(sys.executable).parent / "kraliki"), "plugins", "list"],
        env={key: value for key, value in env.items() if key != "KRALIKI_PLUGINS"},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert "globex_tags 0.1.0 [enabled]" in listed.stdout  # really installed beside the rest
    assert "acme_blocklist 1.2.0 [enabled]" in listed.stdout
    suite = _pytest(SUITES, cwd=REPOSITORY, paths=paths)
    assert suite.returncode == 0, suite.stdout[-4000:] + suite.stderr[-2000:]
    assert " passed" in suite.stdout


def test_the_example_distribution_proves_its_isolation_with_kernel_testing(
    acme_distribution_paths,
):
    site, src = acme_distribution_paths
    example = _pytest([], cwd=src.parent, paths=[site, src])
    assert example.returncode == 0, example.stdout[-4000:] + example.stderr[-2000:]
    assert "1 passed" in example.stdout
