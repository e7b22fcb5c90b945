"""What a step process does at start, in fresh interpreters: the GC pause (steps/__init__.py), the import order."""

from __future__ import annotations

import subprocess
import sys

import pytest

from steps import PROJECT
from steps.sweep.task import worker_imports


def python(code: str) -> list[str]:
    done = subprocess.run([sys.executable, "-c", code], cwd=PROJECT, capture_output=True, text=True, check=True)
    return done.stdout.split()


# While Python locates the module of `python -m steps.<step>`, sys.argv[0] is "-m".
AS_PROGRAM = "import sys; sys.argv[0] = '-m'; "
STATE = "print(gc.isenabled(), gc.get_freeze_count() > 0); "


def test_a_step_started_as_a_program_imports_without_the_gc_then_resumes_it():
    paused, resumed_and_frozen = ["False", "False"], ["True", "True"]
    assert python(f"{AS_PROGRAM}import gc, steps; {STATE}steps.imports_done(); {STATE}") == paused + resumed_and_frozen


def test_importing_steps_otherwise_leaves_the_gc_alone():
    # A notebook, Databricks or the tests import steps: their GC is none of our business.
    assert python(f"import gc, steps; {STATE}steps.imports_done(); {STATE}") == ["True", "False", "True", "False"]


# skops's import is cheaper before MLflow's modules are loaded (docs/performance.md).
@pytest.mark.parametrize("step", ["classify_sex", "tune_body_mass"])
def test_the_scikit_learn_steps_import_skops_before_mlflow(step):
    first = "print(loaded.index('skops.io') < loaded.index('mlflow'))"
    assert python(f"import sys, steps.{step}; loaded = list(sys.modules); {first}") == ["True"]


def test_sweep_workers_import_skops_before_mlflow():
    imports = worker_imports("sqlite:///mlflow.db")
    assert imports.index("skops.io") < imports.index("mlflow.sklearn")
