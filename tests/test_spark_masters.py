"""The cluster managers a user scales onto (YARN, Kubernetes) and Spark failing to start: one line naming
spark_master, checked before Spark starts where possible (steps/spark/masters.py, check_cluster_needs;
steps/spark/startup.py for a start that fails anyway).

No YARN or Kubernetes cluster runs here: only the checks made before Spark starts are tested against them.
"""

from __future__ import annotations

import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from harness.servers import free_port
from steps import PROJECT
from steps.cli.params import ParamError
from steps.spark.masters import check_master, endpoint, ensure_image_set, user_confs, yarn_conf_problem
from steps.spark.startup import start_reason
from tests.support import fresh_python, mlflow_run, runs_of, tracking_env

# Lines that only a Java stack trace or an uncaught Python error prints.
TRACEBACK_MARKS = ("Traceback", "\tat ", "Exception in thread", "Py4JJavaError", "JAVA_GATEWAY_EXITED")
SPARK_OUTPUT = r" \(Spark's output: /\S+\.log\)"


# --- parsing: no Spark, no server ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("master", "address"),
    [
        ("k8s://https://h:6443", ("h", 6443)),
        ("k8s://h:6443", ("h", 6443)),  # Spark, too, takes https when no scheme is given
        ("k8s://https://h", ("h", 443)),
        ("k8s://http://h", ("h", 80)),
        ("spark://h", ("h", 7077)),
        ("sc://h", ("h", 15002)),
        ("spark://h1:7077,h2:7077", None),  # standby masters: Spark picks the live one
        ("yarn", None),
        ("local[*]", None),
    ],
)
def test_the_endpoint_probed_before_spark_starts(master, address):
    assert endpoint(master) == address


@pytest.mark.parametrize("master", ["k8s://h:6443", "k8s://https://h", "spark://h1:7077,h2:7077"])
def test_check_master_accepts_the_cluster_forms(master):
    assert check_master("spark_master", master) == master


@pytest.mark.parametrize("master", ["spark://h:abc", "k8s://https://h:port", "k8s://https://", "sc://:15002"])
def test_check_master_rejects_an_address_without_host_or_numeric_port(master):
    with pytest.raises(ParamError, match=r"^spark_master: must be ") as caught:
        check_master("spark_master", master)
    assert f"'{master}'" in str(caught.value)


@pytest.fixture
def conf_dir(tmp_path):
    """An empty SPARK_CONF_DIR: no spark-defaults.conf, no spark-env.sh."""
    directory = tmp_path / "spark-conf"
    directory.mkdir()
    return directory


def test_yarn_says_which_variables_it_found(tmp_path, conf_dir):
    bare = tmp_path / "bare"
    bare.mkdir()
    env = {"SPARK_CONF_DIR": str(conf_dir)}
    assert yarn_conf_problem(env) == "HADOOP_CONF_DIR is not set, YARN_CONF_DIR is not set"
    missing = str(tmp_path / "missing")
    assert yarn_conf_problem({**env, "HADOOP_CONF_DIR": missing}) == (
        f"HADOOP_CONF_DIR='{missing}' is not a directory, YARN_CONF_DIR is not set"
    )
    assert yarn_conf_problem({**env, "YARN_CONF_DIR": str(bare)}) == (
        f"HADOOP_CONF_DIR is not set, YARN_CONF_DIR='{bare}' has no yarn-site.xml"
    )


def test_yarn_is_satisfied_by_either_variable_naming_a_configuration(tmp_path, conf_dir):
    (tmp_path / "yarn-site.xml").write_text("<configuration/>")
    env = {"SPARK_CONF_DIR": str(conf_dir)}
    assert yarn_conf_problem({**env, "HADOOP_CONF_DIR": str(tmp_path)}) is None
    assert yarn_conf_problem({**env, "HADOOP_CONF_DIR": "/missing", "YARN_CONF_DIR": str(tmp_path)}) is None


def test_yarn_leaves_a_variable_set_in_spark_env_sh_to_spark(conf_dir):
    env = {"SPARK_CONF_DIR": str(conf_dir)}
    (conf_dir / "spark-env.sh").write_text("# HADOOP_CONF_DIR, to point Spark towards Hadoop configuration\n")
    assert yarn_conf_problem(env) is not None  # a comment sets nothing
    (conf_dir / "spark-env.sh").write_text("export HADOOP_CONF_DIR=/etc/hadoop/conf\n")
    assert yarn_conf_problem(env) is None


IMAGE = "spark.kubernetes.container.image"


@pytest.mark.parametrize(
    "source",
    [
        {"defaults": f"{IMAGE}  repo/penguins:1\n"},
        {"defaults": f"{IMAGE}=repo/penguins:1\n"},
        {"PYSPARK_SUBMIT_ARGS": f"--conf {IMAGE}=repo/penguins:1 pyspark-shell"},
        {"PYSPARK_SUBMIT_ARGS": f"--conf={IMAGE}=repo/penguins:1 pyspark-shell"},
        {"PYSPARK_SUBMIT_ARGS": "-c spark.kubernetes.executor.container.image=repo/penguins:1 pyspark-shell"},
        {"PYSPARK_SUBMIT_ARGS": "--properties-file {other} pyspark-shell", "other": f"{IMAGE} repo/penguins:1\n"},
        {"SPARK_SUBMIT_OPTS": f"-Xss4m -D{IMAGE}=repo/penguins:1"},
    ],
    ids=["defaults-space", "defaults-equals", "submit-conf", "submit-conf-equals", "executor-image", "props", "opts"],
)
def test_the_image_is_found_where_a_user_can_set_it(source, conf_dir, tmp_path):
    env = {"SPARK_CONF_DIR": str(conf_dir)}
    if "defaults" in source:
        (conf_dir / "spark-defaults.conf").write_text("# the cluster's defaults\n" + source["defaults"])
    if "other" in source:
        (tmp_path / "other.conf").write_text(source["other"])
    for name in ("PYSPARK_SUBMIT_ARGS", "SPARK_SUBMIT_OPTS"):
        if name in source:
            env[name] = source[name].replace("{other}", str(tmp_path / "other.conf"))
    assert "repo/penguins:1" in user_confs(env).values()
    ensure_image_set("k8s://h:6443", env)  # must not raise


def test_no_image_names_where_to_set_it(conf_dir):
    (conf_dir / "spark-defaults.conf").write_text(f"# {IMAGE} repo/penguins:1\nspark.executor.memory 2g\n")
    env = {"SPARK_CONF_DIR": str(conf_dir), "PYSPARK_SUBMIT_ARGS": f"--conf {IMAGE}= pyspark-shell"}
    with pytest.raises(ParamError) as caught:
        ensure_image_set("k8s://h:6443", env)
    assert str(caught.value) == (
        f"spark_master: 'k8s://h:6443' needs a container image for the executors: set {IMAGE} in "
        f"{conf_dir}/spark-defaults.conf or with --conf in PYSPARK_SUBMIT_ARGS (found in neither)"
    )


@pytest.mark.parametrize(
    ("jvm_text", "reason"),
    [
        (
            "WARNING: Using incubator modules: jdk.incubator.vector\n"
            "Exception in thread \"main\" org.apache.spark.SparkException: When running with master 'yarn' "
            "either HADOOP_CONF_DIR or YARN_CONF_DIR must be set in the environment.\n"
            "\tat org.apache.spark.deploy.SparkSubmitArguments.error(SparkSubmitArguments.scala:670)\n",
            "When running with master 'yarn' either HADOOP_CONF_DIR or YARN_CONF_DIR must be set in the environment.",
        ),
        (
            "Invalid maximum heap size: -Xmxabc\nError: Could not create the Java Virtual Machine.\n",
            "Invalid maximum heap size: -Xmxabc",
        ),
        ("Error: Master must either be yarn or start with spark, k8s, or local\nUsage: spark-submit\n", None),
        ("", "[JAVA_GATEWAY_EXITED] Java gateway process exited before sending its port number."),
    ],
    ids=["exception", "jvm-option", "submit-error", "silent"],
)
def test_the_reason_of_a_jvm_that_exited_is_its_first_meaningful_line(jvm_text, reason):
    from pyspark.errors import PySparkRuntimeError  # what pyspark raises when its JVM exits while starting

    exited = PySparkRuntimeError(errorClass="JAVA_GATEWAY_EXITED", messageParameters={})
    expected = reason or "Master must either be yarn or start with spark, k8s, or local"
    assert start_reason(exited, jvm_text, jvm_exited=True) == expected


def test_the_reason_of_a_java_error_is_its_message():
    java = Exception(
        "An error occurred while calling None.org.apache.spark.api.java.JavaSparkContext.\n"
        ": org.apache.spark.SparkException: Asked to run locally with 0 threads\n"
        "\tat org.apache.spark.SparkContext$.createTaskScheduler(SparkContext.scala:3333)\n"
    )
    assert start_reason(java, "", jvm_exited=False) == "Asked to run locally with 0 threads"


# --- through `mlflow run`, on the real tracking server ---------------------------------------------


@pytest.fixture
def listening_port():
    """A port on 127.0.0.1 that accepts TCP connections (and says nothing): stands in for an API server."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        yield server.getsockname()[1]


@pytest.fixture
def user_environment(monkeypatch, conf_dir):
    """No Hadoop, Kubernetes or Spark settings from this machine: an empty SPARK_CONF_DIR, none of the variables."""
    for name in ("HADOOP_CONF_DIR", "YARN_CONF_DIR", "PYSPARK_SUBMIT_ARGS", "SPARK_SUBMIT_OPTS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SPARK_CONF_DIR", str(conf_dir))
    return conf_dir


YARN_NEEDS = (
    "error: spark_master: 'yarn' needs HADOOP_CONF_DIR or YARN_CONF_DIR set to the directory of the cluster's "
    "configuration (yarn-site.xml, core-site.xml); found: "
)
PRE_START_CASES = [
    # (entry point, spark_master, extra environment, the exact error line), {names} filled in by the test
    ("classify_species", "yarn", {}, YARN_NEEDS + "HADOOP_CONF_DIR is not set, YARN_CONF_DIR is not set"),
    ("cluster_islands", "yarn", {}, YARN_NEEDS + "HADOOP_CONF_DIR is not set, YARN_CONF_DIR is not set"),
    (
        "classify_species",
        "yarn",
        {"HADOOP_CONF_DIR": "{missing}"},
        YARN_NEEDS + "HADOOP_CONF_DIR='{missing}' is not a directory, YARN_CONF_DIR is not set",
    ),
    (
        "classify_species",
        "k8s://https://127.0.0.1:{closed}",
        {},
        "error: spark_master: cannot reach 'k8s://https://127.0.0.1:{closed}' (Connection refused); "
        "is the Kubernetes API server running?",
    ),
    (
        "classify_species",
        "k8s://https://127.0.0.1:{port}",
        {},
        "error: spark_master: 'k8s://https://127.0.0.1:{port}' needs a container image for the executors: "
        f"set {IMAGE} in {{conf}}/spark-defaults.conf or with --conf in PYSPARK_SUBMIT_ARGS (found in neither)",
    ),
]
PRE_START_IDS = ["yarn-unset", "yarn-unset-cluster-islands", "yarn-missing-dir", "k8s-closed-port", "k8s-no-image"]


def assert_failed_in_one_line(result, experiment: str, expected: str) -> None:
    assert result.returncode != 0
    (line,) = result.error_lines
    assert re.fullmatch(expected, line), line
    assert not [mark for mark in TRACEBACK_MARKS if mark in result.stderr], result.stderr[-3000:]
    (run,) = runs_of(experiment)
    assert run.info.status == "FAILED"
    assert "spark_master: " in run.data.tags["error"]


@pytest.mark.e2e
@pytest.mark.parametrize(("entry_point", "master", "env", "expected"), PRE_START_CASES, ids=PRE_START_IDS)
def test_a_cluster_manager_without_what_it_needs_is_one_line_before_spark_starts(
    entry_point, master, env, expected, user_environment, listening_port, tmp_path, tracking_uri, experiment
):
    filled = {
        "port": str(listening_port),
        "closed": str(free_port()),
        "missing": str(tmp_path / "no-hadoop-conf"),
        "conf": str(user_environment),
    }

    def fill(text: str) -> str:
        return re.sub(r"\{(\w+)\}", lambda name: filled[name[1]], text)

    started = time.monotonic()
    result = mlflow_run(
        entry_point,
        experiment,
        tracking_uri,
        timeout=120,
        env={k: fill(v) for k, v in env.items()},
        spark_master=fill(master),
    )
    assert time.monotonic() - started < 60
    assert_failed_in_one_line(result, experiment, re.escape(fill(expected)))
    assert "Spark did not start" not in result.stderr  # refused before any JVM


START_FAILURES = [
    # (spark_master, spark-defaults.conf, Spark's reason in the line)
    ("local[*]", "spark.driver.memory abc\n", "Invalid maximum heap size: -Xmxabc"),  # the JVM exits at once
    ("local[0]", "", "Asked to run locally with 0 threads"),  # passes the parser; the SparkContext refuses it
]


@pytest.mark.e2e
@pytest.mark.spark
@pytest.mark.parametrize(("master", "defaults", "reason"), START_FAILURES, ids=["bad-conf", "zero-threads"])
def test_spark_failing_to_start_is_one_line_with_its_reason(
    master, defaults, reason, user_environment, tracking_uri, experiment
):
    (user_environment / "spark-defaults.conf").write_text(defaults)
    result = mlflow_run("classify_species", experiment, tracking_uri, timeout=180, spark_master=master)
    expected = re.escape(f"error: spark_master: Spark did not start on '{master}': {reason}") + SPARK_OUTPUT
    assert_failed_in_one_line(result, experiment, expected)
    saved = Path(re.search(r"Spark's output: (\S+\.log)", result.stderr)[1])
    assert reason in saved.read_text()  # the details the line leaves out are kept
    saved.unlink()


@pytest.mark.e2e
@pytest.mark.spark
def test_a_step_whose_spark_does_not_start_prints_only_that_line(user_environment, tracking_uri, experiment):
    (user_environment / "spark-defaults.conf").write_text("spark.driver.memory abc\n")
    step = [sys.executable, "-m", "steps.classify_species"]
    env = tracking_env(tracking_uri, {"MLFLOW_EXPERIMENT_NAME": experiment})
    done = subprocess.run(step, capture_output=True, text=True, env=env, cwd=PROJECT, timeout=180)
    assert done.returncode == 2
    (line,) = done.stderr.strip().splitlines()
    expected = "error: spark_master: Spark did not start on 'local[*]': Invalid maximum heap size: -Xmxabc"
    assert re.fullmatch(re.escape(expected) + SPARK_OUTPUT, line)
    Path(re.search(r"Spark's output: (\S+\.log)", line)[1]).unlink()
    (run,) = runs_of(experiment)
    assert run.info.status == "FAILED"


@pytest.mark.spark
def test_a_started_sessions_jvm_output_still_reaches_stderr():
    # Held back while Spark starts, passed on after: a worker's output (through the JVM) still shows.
    code = (
        "import sys\n"
        "from steps.spark.session import spark_session\n"
        "def speak(rows):\n"
        "    print('a worker speaks', file=sys.stderr, flush=True)\n"
        "    yield 1\n"
        "with spark_session('local[1]', 'jvm-output', {}) as spark:\n"
        "    spark.sparkContext.parallelize([0], 1).mapPartitions(speak).collect()\n"
    )
    done = fresh_python(code)
    assert "a worker speaks" in done.stderr
    assert "Using incubator modules" in done.stderr  # the JVM's start-up notice, passed on once it started
