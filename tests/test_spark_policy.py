"""The Spark session policy (steps/spark/session.py): master URLs, executor environment, fail-fast, session reuse.

Only one SparkContext may live in a process, so every test starts with no active session
(`no_active_session`) and stops whatever it started.
"""

from __future__ import annotations

import os
import sys
import time

import pytest
from pyspark.sql import SparkSession

from harness.servers import free_port
from steps.cli.params import ParamError
from steps.spark.masters import check_master, ensure_reachable
from steps.spark.session import LOCAL_JVM_OPTIONS, absolute_tracking_uri, executor_environment, spark_session
from tests.support import fresh_python


def stop_active_session() -> None:
    active = SparkSession.getActiveSession()
    if active is not None:
        active.stop()


@pytest.fixture(autouse=True)
def no_active_session():
    """No session left by another test or module before, and none left behind after, each test."""
    stop_active_session()
    yield
    stop_active_session()


@pytest.mark.parametrize(
    "master",
    ["local", "local[*]", "local[2]", "local[2,3]", "spark://h:7077", "sc://h:15002", "yarn", "k8s://https://h:443"],
)
def test_check_master_accepts(master):
    assert check_master("spark_master", master) == master


@pytest.mark.parametrize("master", ["", "mesos://x", "local[x]", "spark:/bad"])
def test_check_master_rejects_with_one_line(master):
    with pytest.raises(ParamError) as caught:
        check_master("spark_master", master)
    message = str(caught.value)
    assert message.startswith("spark_master: ")
    assert "\n" not in message
    assert f"'{master}'" in message


def test_relative_sqlite_uri_becomes_absolute(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert absolute_tracking_uri("sqlite:///mlflow.db") == f"sqlite:///{os.getcwd()}/mlflow.db"


@pytest.mark.parametrize("uri", ["sqlite:////abs/x.db", "http://h:5000"])
def test_absolute_or_remote_uri_unchanged(uri, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert absolute_tracking_uri(uri) == uri


def test_executor_environment_carries_tracking_settings(monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", "alice")
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", "s3cret")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://driver-only:1")
    monkeypatch.setenv("UNRELATED_SECRET", "no")
    monkeypatch.setenv("MLFLOW_RUN_ID", "no")
    env = executor_environment("http://h:5000", "7")
    assert env["MLFLOW_TRACKING_USERNAME"] == "alice"
    assert env["MLFLOW_TRACKING_PASSWORD"] == "s3cret"
    assert env["MLFLOW_TRACKING_URI"] == "http://h:5000"  # the argument wins over the driver's variable
    assert env["MLFLOW_EXPERIMENT_ID"] == "7"
    assert "UNRELATED_SECRET" not in env and "MLFLOW_RUN_ID" not in env


def test_ensure_reachable_fails_fast_on_a_closed_port():
    master = f"spark://127.0.0.1:{free_port()}"
    started = time.monotonic()
    with pytest.raises(ParamError, match=r"^spark_master: cannot reach ") as caught:
        ensure_reachable(master)
    assert time.monotonic() - started < 10
    assert master in str(caught.value)


def test_ensure_reachable_ignores_local():
    ensure_reachable("local[*]")  # no endpoint to probe: must not raise


@pytest.mark.spark
def test_active_session_is_reused_and_left_running():
    spark = SparkSession.builder.master("local[1]").getOrCreate()
    try:
        # An unreachable master on purpose: an active session wins, so it is never probed.
        with spark_session("spark://127.0.0.1:1", "reuse", {}) as given:
            assert given is spark
        assert SparkSession.getActiveSession() is spark
        assert spark.range(3).count() == 3
    finally:
        spark.stop()


@pytest.mark.spark
def test_session_started_here_is_stopped_at_exit():
    with spark_session("local[1]", "own-session", {}) as spark:
        assert spark.range(3).count() == 3
    assert SparkSession.getActiveSession() is None


def jvm_arguments(small_data: bool) -> set[str]:
    """The JVM arguments of a local session started in a fresh interpreter (a process starts one JVM, with the
    options of its first session)."""
    code = (
        "from steps.spark.session import spark_session\n"
        f"with spark_session('local[1]', 'jvm-options', {{}}, small_data={small_data}) as spark:\n"
        "    bean = spark.sparkContext._jvm.java.lang.management.ManagementFactory.getRuntimeMXBean()\n"
        "    print(' '.join(bean.getInputArguments()))\n"
    )
    return set(fresh_python(code).stdout.split())


@pytest.mark.spark
def test_a_local_sessions_jvm_runs_with_the_quick_jit_and_the_serial_collector():
    assert set(LOCAL_JVM_OPTIONS) <= jvm_arguments(small_data=True)


@pytest.mark.spark
def test_a_local_session_for_tables_of_any_size_keeps_the_jvms_optimising_jit_and_collector():
    assert not set(LOCAL_JVM_OPTIONS) & jvm_arguments(small_data=False)


@pytest.mark.spark
def test_a_local_session_forks_its_python_workers_with_the_tasks_imports_loaded():
    def loaded(_rows):
        yield "s_dbw" in sys.modules, sys.argv[0]  # before the task imports anything itself

    with spark_session("local[1]", "preload", {}, worker_imports=("s_dbw",)) as spark:
        found = spark.sparkContext.parallelize(range(2), 1).mapPartitions(loaded).collect()
    ((preloaded, daemon),) = found
    assert daemon.endswith("steps/spark/daemon.py")
    assert preloaded, "the worker did not fork with s_dbw imported"


@pytest.mark.spark
def test_executors_on_a_cluster_see_the_tracking_settings(spark_cluster, monkeypatch):
    monkeypatch.setenv("SPARK_LOCAL_IP", "127.0.0.1")
    monkeypatch.setenv("PYSPARK_PYTHON", sys.executable)
    # Neither variable is in the driver's environment: executors can only get them via spark.executorEnv.
    monkeypatch.delenv("MLFLOW_EXPERIMENT_ID", raising=False)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)

    def seen(_rows):
        yield os.environ.get("MLFLOW_TRACKING_URI"), os.environ.get("MLFLOW_EXPERIMENT_ID"), os.getpid()

    env = executor_environment("http://127.0.0.1:9/x", "123")
    with spark_session(spark_cluster.master_url, "env-check", env) as spark:
        assert spark.sparkContext.master == spark_cluster.master_url
        found = spark.sparkContext.parallelize(range(4), 2).mapPartitions(seen).collect()
    assert len(found) == 2
    assert {(uri, experiment) for uri, experiment, _ in found} == {("http://127.0.0.1:9/x", "123")}
    assert os.getpid() not in {pid for _, _, pid in found}
    assert "MLFLOW_EXPERIMENT_ID" not in os.environ
