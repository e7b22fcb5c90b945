"""The Databricks definitions are valid (no network here): the bundle's job against the databricks-sdk
data classes, every task against MLproject and the steps' own parameter parsing; the backend config
for `mlflow run -b databricks` against MLflow's own checks. The task launcher runs for real."""

from __future__ import annotations

import importlib
import json
import re
import subprocess
import sys

import pytest
import yaml
from databricks.sdk.service.compute import ClusterSpec, Library
from databricks.sdk.service.jobs import JobSettings
from mlflow.projects.databricks import before_run_validations

from steps import PROJECT
from steps.cli.params import parse_params
from steps.main import STEPS
from steps.tracking.runner import DATA

BUNDLE = yaml.safe_load((PROJECT / "databricks.yml").read_text())
JOB = BUNDLE["resources"]["jobs"]["penguins"]
BACKEND_CONFIG = json.loads((PROJECT / "databricks" / "backend-config.json").read_text())
ENTRY_POINTS = set(yaml.safe_load((PROJECT / "MLproject").read_text())["entry_points"])
LOCKED = dict(re.findall(r"^([A-Za-z0-9._-]+)==(\S+)", (PROJECT / "requirements.lock").read_text(), re.M))


def test_the_job_is_a_valid_jobs_api_definition():
    # from_dict drops what it does not know, so a misspelt or misplaced key shows up as a difference.
    assert JobSettings.from_dict(JOB).as_dict() == JOB


@pytest.mark.parametrize("task", JOB["tasks"], ids=lambda t: t["task_key"])
def test_each_task_runs_a_real_entry_point_with_valid_parameters(task):
    spark_python_task = task["spark_python_task"]
    assert (PROJECT / spark_python_task["python_file"]).is_file()
    entry_point, *flags = spark_python_task["parameters"]
    assert entry_point in ENTRY_POINTS - {"main"}
    step = importlib.import_module(f"steps.{entry_point}")
    parse_params((DATA, *step.PARAMS), flags, prog=entry_point)  # raises on an unknown flag or bad value
    assert task["job_cluster_key"] in {c["job_cluster_key"] for c in JOB["job_clusters"]}
    keys = [t["task_key"] for t in JOB["tasks"]]
    assert all(d["task_key"] in keys for d in task.get("depends_on", []))


def test_every_step_of_main_has_a_task_and_logs_to_the_workspace():
    assert {t["spark_python_task"]["parameters"][0] for t in JOB["tasks"]} == set(STEPS)
    env = JOB["job_clusters"][0]["new_cluster"]["spark_env_vars"]
    assert env["MLFLOW_TRACKING_URI"] == "databricks"


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
    launcher = [sys.executable, str(PROJECT / "databricks" / "run_step.py")]
    done = subprocess.run([*launcher, "classify_sex", "--seed", "7"], capture_output=True, text=True, env=env, cwd="/")
    assert done.returncode == 0, done.stderr[-3000:]
    (run,) = mlflow.search_runs(experiment_names=[experiment], output_format="list")
    assert run.info.status == "FINISHED" and run.data.params["seed"] == "7"

    done = subprocess.run([*launcher, "classify_everything"], capture_output=True, text=True, env=env, cwd="/")
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "error: entry point: must be one of classify_sex, classify_species, cluster_islands, score, tune_body_mass, "
        "got 'classify_everything'"
    ]
