"""Spark's Python daemon for local sessions, with the tasks' libraries imported before workers fork.

Spark forks every Python worker from its daemon. Imported here once, before the first fork,
MLflow, scikit-learn, skops and the rest are in each worker from its start, instead of each
worker importing them again. `spark_session(..., worker_imports=...)` sets this up, in local
mode only: a cluster's executors run Spark's own daemon. None of these imports starts a
thread, so forking after them is safe. What they load is frozen out of the GC's reach
(steps.imports_done) before the first fork, so no worker walks it again.
"""

import importlib
import os

from steps import imports_done

WORKER_IMPORTS = "PENGUINS_WORKER_IMPORTS"  # comma-separated module names, from the session's executorEnv

if __name__ == "__main__":
    from pyspark import daemon

    for module in filter(None, os.environ.get(WORKER_IMPORTS, "").split(",")):
        importlib.import_module(module)
    imports_done()
    daemon.manager()
