"""mlflow-penguins: one module per MLflow Projects entry point, the infrastructure in subpackages.

This root holds what every subpackage may use: where the project is, the one error type
reported as a single line, and the GC pause of a step started as a program.
"""

import gc
import sys
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent  # the project's root: MLproject, conda.yaml, steps/


class UserError(ValueError):
    """Bad input from the user (a parameter, the data, a setting): one line on stderr, exit code 2, no traceback."""


# A step started as a program (`python -m steps.<step>`, as MLproject runs it, or Spark's
# Python daemon) first imports MLflow, pandas, scikit-learn or PySpark: millions of objects
# that live as long as the process, which the cyclic GC would walk again and again while they
# load (docs/performance.md). So it is paused while Python locates that module (sys.argv[0]
# is then "-m", as the docs of -m say) until the program calls imports_done().
_gc_paused = sys.argv[:1] == ["-m"]
if _gc_paused:
    gc.disable()


def imports_done() -> None:
    """Resume the GC paused above, leaving out everything loaded so far (gc.freeze); else a no-op."""
    global _gc_paused
    if _gc_paused:
        gc.freeze()
        gc.enable()
        _gc_paused = False
