"""The GC pause of a step started as a program (steps/__init__.py), in fresh interpreters."""

from __future__ import annotations

import subprocess
import sys

from steps import PROJECT


def python(code: str) -> list[str]:
    done = subprocess.run([sys.executable, "-c", code], cwd=PROJECT, capture_output=True, text=True, check=True)
    return done.stdout.split()


# While Python locates the module of `python -m steps.<step>`, sys.argv[0] is "-m".
AS_PROGRAM = "import sys; sys.argv[0] = '-m'; "
STATE = "print(gc.isenabled(), gc.get_freeze_count() > 0); "


def test_a_step_started_as_a_program_imports_without_the_gc_then_resumes_it():
    assert python(f"{AS_PROGRAM}import gc, steps; {STATE}steps.imports_done(); {STATE}") == [
        "False", "False",  # paused while it imports
        "True", "True",  # resumed, with what was loaded frozen out of its reach
    ]  # fmt: skip


def test_importing_steps_otherwise_leaves_the_gc_alone():
    # A notebook, Databricks or the tests import steps: their GC is none of our business.
    assert python(f"import gc, steps; {STATE}steps.imports_done(); {STATE}") == ["True", "False", "True", "False"]
