"""The one Spark session policy every Spark step uses.

* A session that is already active (Databricks, a notebook) is reused and never
  stopped; `spark_master` is then ignored.
* Otherwise `spark_master` says where to run: `local[*]` (the default), `local[N]`,
  a standalone master `spark://host:port`, any other master URL Spark accepts
  (`yarn`, `k8s://...`), or a Spark Connect endpoint `sc://host:port`.
* Executors on a real cluster do not see the driver's environment, so the tracking
  URI, the experiment id and any MLFLOW_TRACKING_* credentials are handed to them
  through `spark.executorEnv.*` (local mode hides the need).
* A `spark://` or `sc://` endpoint that does not answer is reported within seconds,
  instead of Spark retrying for minutes.
* Console noise down to warnings; few shuffle partitions, as the data are small.
* A local session can start Spark's Python daemon with the tasks' libraries already
  imported (`worker_imports`, see steps/spark/daemon.py), so each worker need not.
* Only a session this module started is stopped.
"""

from __future__ import annotations

import atexit
import functools
import os
import re
import shutil
import sys
import tempfile
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from urllib.parse import urlparse

from steps import PROJECT
from steps.cli.params import Param, ParamError, invalid
from steps.cli.probe import unreachable
from steps.spark.daemon import WORKER_IMPORTS
from steps.tracking.server import absolute_tracking_uri

LOG4J_CONFIG = Path(__file__).with_name("log4j2.properties")
SHUFFLE_PARTITIONS = "4"
LOCAL_MASTER = re.compile(r"^local(\[(\*|\d+)(,\s*\d+)?\])?$")
CLUSTER_MASTER = re.compile(r"^(spark|sc|k8s)://\S+$|^yarn$")
# A local session is short and its data small: the optimising JIT (C2) and a parallel
# collector cost more CPU than they save (docs/performance.md).
LOCAL_JVM_OPTIONS = ["-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC"]
ALLOWED = "local[*], local[N], spark://host:port, sc://host:port, yarn or k8s://..."


def check_master(name: str, master: str) -> str:
    """Parse `spark_master`: one of the forms in ALLOWED."""
    master = master.strip()
    if not (LOCAL_MASTER.match(master) or CLUSTER_MASTER.match(master)):
        raise invalid(name, ALLOWED, master)
    return master


SPARK_MASTER = Param(
    "spark_master", "local[*]", check_master, f"where Spark runs: {ALLOWED}; an active session (Databricks) wins"
)


def endpoint(master: str) -> tuple[str, int] | None:
    """(host, port) of a spark:// or sc:// URL, which we can probe before starting Spark."""
    parsed = urlparse(master)
    if parsed.scheme == "spark":
        return parsed.hostname or "", parsed.port or 7077
    if parsed.scheme == "sc":
        return parsed.hostname or "", parsed.port or 15002
    return None


def ensure_reachable(master: str) -> None:
    """Fail fast, naming the parameter, when a standalone master or Connect server does not answer."""
    address = endpoint(master)
    if address is not None and (reason := unreachable(*address)):
        raise ParamError(f"spark_master: cannot reach '{master}' ({reason}); is the Spark master running?")


def executor_environment(tracking_uri: str, experiment_id: str | None) -> dict[str, str]:
    """What an executor needs to log to the same tracking server and experiment as the driver."""
    env = {name: value for name, value in os.environ.items() if name.startswith(("MLFLOW_TRACKING_", "MLFLOW_HTTP_"))}
    env["MLFLOW_TRACKING_URI"] = absolute_tracking_uri(tracking_uri)
    if experiment_id:
        env["MLFLOW_EXPERIMENT_ID"] = experiment_id
    return env


@functools.cache
def project_code_zip() -> str:
    """The `steps` package as a zip of its .py files, made once per process (removed at exit)."""
    directory = tempfile.mkdtemp(prefix="penguins-code-")
    atexit.register(shutil.rmtree, directory, ignore_errors=True)
    archive = os.path.join(directory, "steps.zip")
    with zipfile.ZipFile(archive, "w") as files:
        for source in sorted((PROJECT / "steps").rglob("*.py")):
            files.write(source, source.relative_to(PROJECT).as_posix())
    return archive


def ship_project_code(spark) -> None:
    """Make `steps` importable in every executor: a cluster's executors do not have the project,
    and what the tasks log (a model's class, by module) must import there as it does here."""
    if is_connect(spark):
        spark.addArtifacts(project_code_zip(), pyfile=True)
    else:
        spark.sparkContext.addPyFile(project_code_zip())


def is_connect(spark) -> bool:
    return type(spark).__module__.startswith("pyspark.sql.connect")


@contextmanager
def spark_session(
    master: str, app_name: str, executor_env: dict[str, str], worker_imports: tuple[str, ...] = ()
) -> Iterator:
    """The session to use: the active one if any, else a new one on `master`, stopped on exit.

    `worker_imports`: modules the tasks use; a local session's Python daemon imports them
    once, before it forks the workers (see steps/spark/daemon.py)."""
    from pyspark.sql import SparkSession

    active = SparkSession.getActiveSession()
    if active is not None:
        yield active
        return
    ensure_reachable(master)
    if master.startswith("sc://"):
        # Spark Connect: the server owns the cluster and its configuration.
        session = SparkSession.builder.remote(master).appName(app_name).getOrCreate()
    else:
        builder = (
            SparkSession.builder.master(master)
            .appName(app_name)
            .config("spark.sql.shuffle.partitions", SHUFFLE_PARTITIONS)
            .config("spark.ui.showConsoleProgress", "false")
            .config("spark.ui.enabled", "false")
            .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        )
        java_options = [f"-Dlog4j2.configurationFile={LOG4J_CONFIG.as_uri()}"]
        if LOCAL_MASTER.match(master):
            java_options += LOCAL_JVM_OPTIONS
        if LOCAL_MASTER.match(master) and "PYSPARK_PYTHON" not in os.environ:
            # Local Python workers run this very interpreter (and its packages). On a cluster
            # the workers' Python is the cluster's business: PYSPARK_PYTHON or spark.pyspark.python.
            builder = builder.config("spark.pyspark.python", sys.executable)
            if worker_imports:
                builder = (
                    builder.config("spark.python.daemon.module", "steps.spark.daemon")
                    .config("spark.executorEnv.PYTHONPATH", str(PROJECT))
                    .config(f"spark.executorEnv.{WORKER_IMPORTS}", ",".join(worker_imports))
                )
        for name, value in executor_env.items():
            builder = builder.config(f"spark.executorEnv.{name}", value)
        builder = builder.config("spark.driver.extraJavaOptions", " ".join(java_options))
        session = builder.getOrCreate()
        session.sparkContext.setLogLevel("WARN")
    try:
        yield session
    finally:
        with suppress(Exception):  # the JVM may be gone already (killed with its process group)
            session.stop()
