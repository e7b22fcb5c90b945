"""The layering docs/architecture.md describes, checked on every import in steps/ (also those inside functions)."""

from __future__ import annotations

import ast

import pytest

from steps import PROJECT

STEPS = PROJECT / "steps"
ENTRY_POINTS = {"classify_sex", "tune_body_mass", "classify_species", "cluster_islands", "score", "main"}
# Subpackage -> the subpackages it may import besides itself and the steps root.
MAY_IMPORT = {
    "ml": set(),
    "cli": {"ml"},
    "tracking": {"cli", "ml"},
    "spark": {"cli", "tracking"},
    "sweep": {"ml", "tracking", "spark"},
    "scoring": {"cli", "ml", "tracking", "spark"},
    "pipeline": {"cli", "ml", "tracking", "sweep"},
}


def imported_modules(path) -> set[str]:
    """Every module `path` imports; `from steps import X` counts as steps.X (X a module or a name in the root)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found |= {f"{node.module}.{alias.name}" for alias in node.names}
    return found


def project_parts(path) -> set[str]:
    """The steps subpackages and entry points a module imports; names of the steps root count as ''."""
    parts = set()
    for name in imported_modules(path):
        if name == "steps" or name.startswith("steps."):
            part = name.split(".")[1] if "." in name else ""
            parts.add(part if part in MAY_IMPORT or part in ENTRY_POINTS else "")
    return parts


def test_the_top_of_steps_holds_only_the_entry_points():
    modules = {p.stem for p in STEPS.glob("*.py")} - {"__init__"}
    assert modules == ENTRY_POINTS
    assert {p.name for p in STEPS.iterdir() if p.is_dir() and p.name != "__pycache__"} == set(MAY_IMPORT)


@pytest.mark.parametrize("package", sorted(MAY_IMPORT))
def test_a_subpackage_imports_only_the_layers_below_it(package):
    allowed = {"", package, *MAY_IMPORT[package]}
    wrong = {
        f"{path.relative_to(PROJECT)} imports steps.{part}"
        for path in (STEPS / package).rglob("*.py")
        for part in project_parts(path) - allowed
    }
    assert not wrong


@pytest.mark.parametrize("entry_point", sorted(ENTRY_POINTS))
def test_an_entry_point_imports_no_other_entry_point(entry_point):
    # main must not pay for a step's libraries; each step stays one script.
    assert not project_parts(STEPS / f"{entry_point}.py") & (ENTRY_POINTS - {entry_point})


def test_nothing_in_steps_imports_the_tests_the_benchmarks_or_the_harness():
    leaks = {
        f"{path.relative_to(PROJECT)} imports {name}"
        for path in STEPS.rglob("*.py")
        for name in imported_modules(path)
        if name.split(".")[0] in ("tests", "bench", "harness")
    }
    assert not leaks
