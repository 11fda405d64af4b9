"""The architecture docs/architecture.md draws, checked: the import-linter contracts cover every
capability, catch a broken arrow and name it, capabilities reach each other only through their
services, and core names no capability."""

from __future__ import annotations

import configparser
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import grimp
import pytest

from plimsoll.capabilities import CAPABILITIES, PLATFORM

REPO = Path(__file__).resolve().parents[1]
SRC = REPO / "src" / "plimsoll"
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")
# What one capability may import of another: its service (and the entities it returns).
PUBLIC_PARTS = ("service", "entities")


def _contracts() -> configparser.ConfigParser:
    config = configparser.ConfigParser()
    config.read(REPO / ".importlinter")
    return config


def _packages() -> list[str]:
    return [f"plimsoll.{capability.name}" for capability in CAPABILITIES]


def test_every_capability_is_in_the_contracts() -> None:
    config = _contracts()
    layers = config["importlinter:contract:layers"]["layers"]
    containers = config["importlinter:contract:capability-inner-layers"]["containers"].split()
    for package in _packages():
        assert re.search(rf"(^|\s|\|){re.escape(package)}(\s|\||$)", layers), (
            f"{package} is not a layer of the `layers` contract in .importlinter"
        )
        assert package in containers, f"{package} is not a container of `capability-inner-layers`"


def test_capabilities_reach_each_other_only_through_their_service() -> None:
    graph = grimp.build_graph("plimsoll")
    packages = _packages()
    for package in packages:
        for other in packages:
            if other == package:
                continue
            allowed = {other} | {f"{other}.{part}" for part in PUBLIC_PARTS}
            for importer in graph.find_descendants(package) | {package}:
                for imported in graph.find_modules_directly_imported_by(importer):
                    inside = imported == other or imported.startswith(other + ".")
                    public = any(imported == a or imported.startswith(a + ".") for a in allowed)
                    assert not inside or public, f"{importer} imports {imported}: go through {other}.service"


def test_core_names_no_capability() -> None:
    """Not by import (the layers contract checks that) and not by dotted path or table name."""
    names = [capability.name for capability in CAPABILITIES]
    own = {capability.name for capability in PLATFORM}
    for path in (SRC / "core").rglob("*.py"):
        if "migrations" in path.parts:
            continue  # the trunk's history: its revisions created tables before capabilities had branches
        text = path.read_text()
        for name in names:
            if name in own:
                continue
            assert f"plimsoll.{name}" not in text, f"{path.relative_to(REPO)} names plimsoll.{name}"


@pytest.mark.slow
def test_a_broken_arrow_fails_lint_and_names_the_import(tmp_path: Path) -> None:
    copy = tmp_path / "src"
    shutil.copytree(
        SRC, copy / "plimsoll", ignore=shutil.ignore_patterns("__pycache__", "static", "templates")
    )
    db_module = copy / "plimsoll" / "core" / "db.py"
    db_module.write_text(
        db_module.read_text() + "\nfrom plimsoll.tracking import store as _upwards  # noqa\n"
    )
    runs = copy / "plimsoll" / "tracking" / "service" / "runs.py"
    runs.write_text(runs.read_text() + "\nimport sqlalchemy as _sql  # noqa\n")
    shutil.copy(REPO / ".importlinter", tmp_path / ".importlinter")
    env = {**os.environ, "PYTHONPATH": str(copy)}
    result = subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode != 0
    assert "plimsoll.core.db -> plimsoll.tracking.store" in result.stdout
    assert "plimsoll.tracking.service.runs -> sqlalchemy" in result.stdout


# What `import plimsoll` and the `plimsoll` command may not load before they are used: each costs
# a tenth of a second to a second, and every CLI command paid all of them (5 s for `--help`) until
# they were imported where they are used. An embedded platform (what `plimsoll runs list` starts)
# needs SQLAlchemy, but not the statistics stack, the web framework or single sign-on's Authlib.
HEAVY_MODULES = ("sqlalchemy", "pandas", "scipy", "fastapi", "pyarrow", "argon2", "authlib", "openlineage")
STATISTICS_STACK = ("pandas", "scipy", "pyarrow")
SERVER_ONLY = ("fastapi", "authlib")
# An optional extra, loaded only to build or post OpenLineage events (docs/lineage.md).
OPENLINEAGE = ("openlineage",)
START_PLATFORM = (
    "from plimsoll.core.config import Settings; from plimsoll.platform import Platform; "
    "import pathlib; Platform(Settings.from_env().with_overrides(home=pathlib.Path(sys.argv[1]))).startup().close()"
)


@pytest.mark.parametrize(
    ("statement", "not_loaded"),
    [
        ("import plimsoll", HEAVY_MODULES),
        ("import plimsoll.cli.main", HEAVY_MODULES),
        (START_PLATFORM, STATISTICS_STACK + SERVER_ONLY + OPENLINEAGE),
    ],
    ids=["sdk", "cli", "embedded-platform"],
)
def test_starting_loads_no_library_it_does_not_use(
    statement: str, not_loaded: tuple[str, ...], tmp_path: Path
) -> None:
    probe = f"import sys; {statement}; print(' '.join(m for m in {not_loaded!r} if m in sys.modules))"
    done = subprocess.run(
        [sys.executable, "-c", probe, str(tmp_path)], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == []
