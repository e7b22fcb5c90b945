"""The Databricks definitions are valid (no network here): the bundle's job against the databricks-sdk
data classes, every task against MLproject and the steps' (or conclude's) own parameter parsing, the
steps' tasks independent and conclude after all four; the backend config for `mlflow run -b databricks`
against MLflow's own checks. The task launcher runs for real: a step, and the job's tasks end to end."""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
import sys

import pytest
import yaml
from databricks.sdk.service.compute import ClusterSpec, Library
from databricks.sdk.service.jobs import JobSettings
from mlflow.projects.databricks import before_run_validations
from mlflow.tracking import MlflowClient

from harness.cli import fresh_experiment_name
from harness.servers import start_tracking_server, stop_process
from steps import PROJECT
from steps.cli.params import parse_params
from steps.main import STEPS
from steps.ml.data import load_penguins
from steps.pipeline.conclude import REGISTER
from steps.tracking.runner import DATA
from tests.support import tracking_env

BUNDLE = yaml.safe_load((PROJECT / "databricks.yml").read_text())
JOB = BUNDLE["resources"]["jobs"]["penguins"]
BACKEND_CONFIG = json.loads((PROJECT / "databricks" / "backend-config.json").read_text())
ENTRY_POINTS = set(yaml.safe_load((PROJECT / "MLproject").read_text())["entry_points"])
LOCKED = dict(re.findall(r"^([A-Za-z0-9._-]+)==(\S+)", (PROJECT / "requirements.lock").read_text(), re.M))
LAUNCHER = PROJECT / "databricks" / "run_step.py"
_spec = importlib.util.spec_from_file_location("run_step", LAUNCHER)
run_step = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(run_step)
STEP_TASKS = [t for t in JOB["tasks"] if t["spark_python_task"]["parameters"][0] != run_step.CONCLUDE]
(CONCLUDE_TASK,) = [t for t in JOB["tasks"] if t not in STEP_TASKS]


def as_databricks_passes(parameters: list[str]) -> list[str]:
    """The task's parameters with its dynamic values filled in: a job run's id, each job parameter's default."""
    values = {"job.run_id": "1234567", **{f"job.parameters.{p['name']}": p["default"] for p in JOB["parameters"]}}
    return [re.sub(r"\{\{\s*([\w.]+)\s*\}\}", lambda ref: values[ref[1]], p) for p in parameters]


def test_the_job_is_a_valid_jobs_api_definition():
    # from_dict drops what it does not know, so a misspelt or misplaced key shows up as a difference.
    assert JobSettings.from_dict(JOB).as_dict() == JOB


@pytest.mark.parametrize("task", JOB["tasks"], ids=lambda t: t["task_key"])
def test_each_task_runs_a_real_entry_point_with_valid_parameters(task):
    spark_python_task = task["spark_python_task"]
    assert spark_python_task["python_file"] == "databricks/run_step.py"
    entry_point, *args = as_databricks_passes(spark_python_task["parameters"])
    job_run, flags = run_step.split_job_run(args)
    assert job_run == "1234567"  # every task knows its job run: conclude finds the steps' runs by it
    if task is CONCLUDE_TASK:
        params = run_step.CONCLUDE_PARAMS
    else:
        assert entry_point in ENTRY_POINTS - {"main"}
        params = importlib.import_module(f"steps.{entry_point}").PARAMS
    parse_params((DATA, *params), flags, prog=entry_point)  # raises on an unknown flag or bad value
    assert task["job_cluster_key"] in {c["job_cluster_key"] for c in JOB["job_clusters"]}


def test_every_step_of_main_has_a_task_and_logs_to_the_workspace():
    assert sorted(t["spark_python_task"]["parameters"][0] for t in STEP_TASKS) == sorted(STEPS)
    env = JOB["job_clusters"][0]["new_cluster"]["spark_env_vars"]
    assert env["MLFLOW_TRACKING_URI"] == "databricks"


def test_the_steps_run_at_once_and_conclude_waits_for_all_of_them():
    assert [t.get("depends_on", []) for t in STEP_TASKS] == [[]] * len(STEPS)
    assert sorted(d["task_key"] for d in CONCLUDE_TASK["depends_on"]) == sorted(t["task_key"] for t in STEP_TASKS)


def test_the_register_job_parameter_is_concludes_register():
    (register,) = JOB["parameters"]
    assert register == {"name": REGISTER.name, "default": REGISTER.default}
    assert "{{job.parameters.register}}" in CONCLUDE_TASK["spark_python_task"]["parameters"]


@pytest.mark.parametrize(
    "libraries", [JOB["tasks"][0]["libraries"], BACKEND_CONFIG["libraries"]], ids=["job", "backend-config"]
)
def test_libraries_are_pinned_as_in_the_lock(libraries):
    for library in libraries:
        assert Library.from_dict(library).as_dict() == library
        name, version = library["pypi"]["package"].split("==")
        assert LOCKED[name] == version, name
    assert "pyspark" not in json.dumps(libraries)  # the runtime brings its own Spark


def test_backend_config_passes_mlflows_databricks_checks():
    before_run_validations("databricks", BACKEND_CONFIG)
    assert ClusterSpec.from_dict(BACKEND_CONFIG["new_cluster"]).as_dict() == BACKEND_CONFIG["new_cluster"]


@pytest.mark.e2e
def test_the_task_launcher_runs_a_step(tracking_uri, experiment):
    import mlflow

    env = {"MLFLOW_TRACKING_URI": tracking_uri, "MLFLOW_EXPERIMENT_NAME": experiment, "PATH": ""}
    launcher = [sys.executable, str(LAUNCHER)]
    done = subprocess.run([*launcher, "classify_sex", "--seed", "7"], capture_output=True, text=True, env=env, cwd="/")
    assert done.returncode == 0, done.stderr[-3000:]
    (run,) = mlflow.search_runs(experiment_names=[experiment], output_format="list")
    assert run.info.status == "FINISHED" and run.data.params["seed"] == "7"

    done = subprocess.run([*launcher, "classify_everything"], capture_output=True, text=True, env=env, cwd="/")
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "error: entry point: must be one of classify_sex, classify_species, cluster_islands, score, tune_body_mass "
        "or conclude, got 'classify_everything'"
    ]


@pytest.fixture(scope="module")
def own_tracking_uri(tmp_path_factory):
    """A tracking server of this module's own: registered-model names are global per server, and other
    tests register the same ones."""
    uri, server = start_tracking_server(tmp_path_factory.mktemp("databricks-job-server"))
    try:
        yield uri
    finally:
        stop_process(server)


def launch(args: list[str], tracking_uri: str, experiment: str, cwd) -> subprocess.Popen:
    """The launcher as a job task runs it, logging to `tracking_uri`."""
    env = tracking_env(tracking_uri, {"MLFLOW_EXPERIMENT_NAME": experiment})
    command = [sys.executable, str(LAUNCHER), *args]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=cwd)


def finished(task: subprocess.Popen) -> subprocess.CompletedProcess:
    stdout, stderr = task.communicate(timeout=900)
    return subprocess.CompletedProcess(task.args, task.returncode, stdout, stderr)


def error_lines(done: subprocess.CompletedProcess) -> list[str]:
    return [line for line in done.stderr.splitlines() if line.startswith("error: ")]


SMALL_STEPS = {  # each step's task, made small: two eps for the sweep (at 0.5 alone Torgersen has no model)
    "classify_sex": ["--seed", "7"],
    "tune_body_mass": ["--alphas", "0.1,1"],
    "classify_species": ["--max-iter", "5"],
    "cluster_islands": ["--eps", "0.5,1"],
}


@pytest.mark.e2e
@pytest.mark.spark
def test_the_jobs_last_task_concludes_its_steps_as_main_does(own_tracking_uri, tmp_path):
    experiment, job_run = fresh_experiment_name("databricks-job"), "1234567"
    # The four step tasks at once, as the job runs them, then conclude with register=true.
    tasks = [
        launch([step, "--job-run", job_run, *flags], own_tracking_uri, experiment, tmp_path)
        for step, flags in SMALL_STEPS.items()
    ]
    for task in tasks:
        done = finished(task)
        assert done.returncode == 0, done.stderr[-3000:]
    conclude = ["conclude", "--job-run", job_run, "--register", "true"]
    done = finished(launch(conclude, own_tracking_uri, experiment, tmp_path))
    assert done.returncode == 0, done.stderr[-3000:]

    client = MlflowClient(own_tracking_uri, own_tracking_uri)
    experiment_id = client.get_experiment_by_name(experiment).experiment_id
    (main,) = client.search_runs([experiment_id], "attributes.run_name = 'main register=true'")
    assert main.info.status == "FINISHED" and main.data.tags[run_step.JOB_RUN] == job_run
    steps = client.search_runs([experiment_id], f"tags.`mlflow.parentRunId` = '{main.info.run_id}'")
    assert sorted(s.data.tags["penguins.step"] for s in steps) == sorted(STEPS)
    assert {s.info.status for s in steps} == {"FINISHED"}
    assert {s.data.tags[run_step.JOB_RUN] for s in steps} == {job_run}
    islands = sorted(load_penguins().frame["island"].unique())
    registered = [
        "penguins-classify-sex",
        "penguins-tune-body-mass",
        "penguins-classify-species",
        "penguins-clusters-island",
        *(f"penguins-dbscan-island-{island}" for island in islands),
    ]
    for name in registered:  # a first registration: champion under either rule
        assert client.get_model_version_by_alias(name, "champion").version == "1", name
    report = [a.path for a in client.list_artifacts(main.info.run_id, "report")]
    assert {"report/report.html", "report/report.md"} <= set(report)


@pytest.mark.e2e
def test_the_jobs_last_task_names_a_missing_or_failed_step_in_one_line(own_tracking_uri, tmp_path):
    experiment, job_run = fresh_experiment_name("databricks-job-broken"), "7654321"
    client = MlflowClient(own_tracking_uri)

    def conclude(*args: str) -> subprocess.CompletedProcess:
        return finished(launch(["conclude", *args], own_tracking_uri, experiment, tmp_path))

    done = conclude("--register", "true")
    assert done.returncode == 2
    assert error_lines(done) == ["error: conclude: --job-run <id> must follow it: the job run whose steps it concludes"]
    done = conclude("--job-run", job_run, "--register", "maybe")
    assert done.returncode == 2
    assert error_lines(done) == ["error: register: must be one of false, true, force, got 'maybe'"]

    # classify_sex fails on its input; the job's other tasks did not run.
    bad = finished(
        launch(["classify_sex", "--job-run", job_run, "--seed", "x"], own_tracking_uri, experiment, tmp_path)
    )
    assert bad.returncode == 2
    (bad_seed,) = error_lines(bad)
    experiment_id = client.get_experiment_by_name(experiment).experiment_id
    done = conclude("--job-run", job_run)
    assert done.returncode == 2
    assert error_lines(done) == [
        f"error: job run {job_run}: no run of tune_body_mass, classify_species, cluster_islands "
        f"in experiment {experiment_id}"
    ]

    for step in ("tune_body_mass", "classify_species", "cluster_islands"):  # stand-ins for the tasks that did run
        stand_in = client.create_run(experiment_id, tags={run_step.JOB_RUN: job_run, "penguins.step": step})
        client.set_terminated(stand_in.info.run_id, "FINISHED")
    (failed,) = client.search_runs([experiment_id], "tags.`penguins.step` = 'classify_sex'")
    assert failed.info.status == "FAILED"
    done = conclude("--job-run", job_run)
    assert done.returncode == 2
    assert error_lines(done) == [
        f"error: job run {job_run}: step classify_sex is FAILED (run {failed.info.run_id}): "
        f"ParamError: {bad_seed.removeprefix('error: ')}"
    ]
