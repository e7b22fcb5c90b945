"""What a step process does at start, in fresh interpreters: the GC pause (steps/__init__.py), the import order."""

from __future__ import annotations

import pytest

from steps.sweep.task import worker_imports
from tests.support import fresh_python


def python(code: str) -> list[str]:
    return fresh_python(code).stdout.split()


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


# MLflow turns its telemetry off when it sees these (CI markers, the switches, which the steps this
# process ran in-process may have set): a fresh interpreter without them runs as a user's does.
TELEMETRY_OFF_SIGNS = ("CI", "PYTEST_CURRENT_TEST", "GITHUB_ACTIONS", "MLFLOW_DISABLE_TELEMETRY", "DO_NOT_TRACK")
AS_A_USER = f"import os; [os.environ.pop(v, None) for v in {TELEMETRY_OFF_SIGNS}]; "
TELEMETRY = "from mlflow.telemetry.utils import is_telemetry_disabled as off; print(off()); "
STEP = (  # stops at its bad argument, once it has set the process up
    "from steps.tracking.runner import run_step\n"
    "try: run_step('step', (), print, ['--no-such-param'])\nexcept SystemExit: pass\n"
)
SWEEP_TASK = (
    "from steps.sweep.config import SweepConfig; from steps.sweep.task import _client; "
    "_client(SweepConfig('http://127.0.0.1:1', '0', 'job', 'island', ('x',), (0.5,), 3, 's_dbw', ())); "
)


@pytest.mark.parametrize("turn_off", [STEP, SWEEP_TASK], ids=["step", "sweep task"])
def test_a_step_and_a_sweep_task_run_with_mlflow_telemetry_off_unless_the_user_turned_it_on(turn_off):
    # Its thread, failing to reach its endpoint, removes an environment variable that another
    # thread's request may be reading (steps/tracking/server.py).
    before_and_after = python(f"{AS_A_USER}{TELEMETRY}{turn_off}{TELEMETRY}")
    assert before_and_after == ["False", "True"]
    turned_on = "os.environ['MLFLOW_DISABLE_TELEMETRY'] = 'false'; "
    assert python(f"{AS_A_USER}{turned_on}{turn_off}{TELEMETRY}") == ["False"]
