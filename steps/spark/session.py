"""The one Spark session policy every Spark step uses.

* A session that is already active (Databricks, a notebook) is reused and never
  stopped; `spark_master` is then ignored.
* Otherwise `spark_master` says where to run: `local[*]` (the default), `local[N]`,
  a standalone master `spark://host:port`, YARN (`yarn`), Kubernetes
  (`k8s://https://host:port`, or `k8s://host:port` for https), or a Spark Connect
  endpoint `sc://host:port`. What its cluster manager needs is checked before Spark
  starts (steps/spark/masters.py); Spark failing to start anyway is one line with
  Spark's own reason (steps/spark/startup.py).
* Executors on a real cluster do not see the driver's environment, so the tracking
  URI, the experiment id and any MLFLOW_TRACKING_* credentials are handed to them
  through `spark.executorEnv.*` (local mode hides the need).
* Console noise down to warnings; few shuffle partitions, as the data are small.
* A local session can start Spark's Python daemon with the tasks' libraries already
  imported (`worker_imports`, see steps/spark/daemon.py), so each worker need not.
* Only a session this module started is stopped.
"""

from __future__ import annotations

import atexit
import functools
import os
import shutil
import sys
import tempfile
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from steps import PROJECT
from steps.cli.params import Param
from steps.spark.daemon import WORKER_IMPORTS
from steps.spark.masters import ALLOWED, LOCAL_MASTER, check_cluster_needs, check_master
from steps.spark.startup import jvm_output_to_hold, start_errors, start_failed, start_jvm
from steps.tracking.server import absolute_tracking_uri

LOG4J_CONFIG = Path(__file__).with_name("log4j2.properties")
SHUFFLE_PARTITIONS = "4"
# A local session on small data: the optimising JIT (C2) and a parallel collector cost more
# CPU than they save; on a table of any size (score) they pay (docs/performance.md).
LOCAL_JVM_OPTIONS = ["-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC"]
SPARK_MASTER = Param(
    "spark_master", "local[*]", check_master, f"where Spark runs: {ALLOWED}; an active session (Databricks) wins"
)


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


def session_conf(
    master: str, app_name: str, executor_env: dict[str, str], worker_imports: tuple[str, ...], small_data: bool = True
) -> dict:
    """The confs of a session this module starts (not a Connect one: its server owns the configuration)."""
    conf = {
        "spark.master": master,
        "spark.app.name": app_name,
        "spark.sql.shuffle.partitions": SHUFFLE_PARTITIONS,
        "spark.ui.showConsoleProgress": "false",
        "spark.ui.enabled": "false",
        "spark.sql.execution.arrow.pyspark.enabled": "true",
    }
    java_options = [f"-Dlog4j2.configurationFile={LOG4J_CONFIG.as_uri()}"]
    if LOCAL_MASTER.match(master) and small_data:
        java_options += LOCAL_JVM_OPTIONS
    if LOCAL_MASTER.match(master) and "PYSPARK_PYTHON" not in os.environ:
        # Local Python workers run this very interpreter (and its packages). On a cluster
        # the workers' Python is the cluster's business: PYSPARK_PYTHON or spark.pyspark.python.
        conf["spark.pyspark.python"] = sys.executable
        if worker_imports:
            conf["spark.python.daemon.module"] = "steps.spark.daemon"
            conf["spark.executorEnv.PYTHONPATH"] = str(PROJECT)
            conf[f"spark.executorEnv.{WORKER_IMPORTS}"] = ",".join(worker_imports)
    for name, value in executor_env.items():
        conf[f"spark.executorEnv.{name}"] = value
    conf["spark.driver.extraJavaOptions"] = " ".join(java_options)
    return conf


def start_session(
    master: str, app_name: str, executor_env: dict[str, str], worker_imports: tuple[str, ...], small_data: bool
):
    """A new session on `master`; SparkStartError, one line, when Spark does not start."""
    from pyspark import SparkConf
    from pyspark.sql import SparkSession

    output = None
    try:
        if master.startswith("sc://"):
            # Spark Connect: the server owns the cluster and its configuration.
            return SparkSession.builder.remote(master).appName(app_name).getOrCreate()
        conf = session_conf(master, app_name, executor_env, worker_imports, small_data)
        output = jvm_output_to_hold()
        if output is not None and output.gateway is None:
            start_jvm(output, SparkConf().setAll(conf.items()))
        session = SparkSession.builder.config(map=conf).getOrCreate()
        session.sparkContext.setLogLevel("WARN")
    except start_errors() as error:
        raise start_failed(master, error, output) from error
    if output is not None:
        output.release()
    return session


@contextmanager
def spark_session(
    master: str,
    app_name: str,
    executor_env: dict[str, str],
    worker_imports: tuple[str, ...] = (),
    small_data: bool = True,
) -> Iterator:
    """The session to use: the active one if any, else a new one on `master`, stopped on exit.

    `worker_imports`: modules the tasks use; a local session's Python daemon imports them
    once, before it forks the workers (see steps/spark/daemon.py). `small_data`: a local
    session's JVM starts with LOCAL_JVM_OPTIONS; False for tables of any size."""
    from pyspark.sql import SparkSession

    active = SparkSession.getActiveSession()
    if active is not None:
        yield active
        return
    check_cluster_needs(master)
    session = start_session(master, app_name, executor_env, worker_imports, small_data)
    try:
        yield session
    finally:
        with suppress(Exception):  # the JVM may be gone already (killed with its process group)
            session.stop()
