"""End to end: `mlflow run . -e classify_sex` against a real tracking server."""

from __future__ import annotations

import subprocess
import sys

import mlflow
import pandas as pd
import pytest
from mlflow.tracking import MlflowClient

from harness.cli import fresh_experiment_name
from steps import PROJECT
from steps.ml.data import load_penguins
from tests.support import mlflow_run, runs_of, tracking_env

pytestmark = [pytest.mark.e2e]

METRICS = ("train_acc", "eval_acc", "auc_score", "reloaded_eval_acc")


@pytest.fixture(scope="module")
def sex_run(tracking_uri):
    result = mlflow_run("classify_sex", fresh_experiment_name("classify-sex"), tracking_uri)
    assert result.returncode == 0, result.stderr[-3000:]
    return result.run()


def test_run_finishes_with_the_metrics(sex_run):
    assert sex_run.info.status == "FINISHED"
    assert set(METRICS) <= set(sex_run.data.metrics)
    # MLflow Projects logs each value as it quoted it for the shell: the empty `data` as "''".
    assert sex_run.data.params == {"data": "''", "test_size": "0.2", "seed": "42", "C": "1.0", "max_iter": "100"}


def test_auc_comes_from_probabilities(sex_run):
    auc = sex_run.data.metrics["auc_score"]
    assert auc > 0.9
    # A hard-label AUC can only take the values (TPR + TNR) / 2; the probability AUC is finer.
    assert auc > sex_run.data.metrics["eval_acc"]


def test_reloaded_model_scores_like_the_original(sex_run):
    assert sex_run.data.metrics["reloaded_eval_acc"] == sex_run.data.metrics["eval_acc"]


def test_plots_are_logged(sex_run):
    names = {f.path for f in MlflowClient().list_artifacts(sex_run.info.run_id)}
    assert {"roc_curve.png", "confusion_matrix.png"} <= names
    for name in ("roc_curve.png", "confusion_matrix.png"):
        path = mlflow.artifacts.download_artifacts(run_id=sex_run.info.run_id, artifact_path=name)
        with open(path, "rb") as png:
            assert png.read(8) == b"\x89PNG\r\n\x1a\n"


def test_dataset_input_names_source_and_digest(sex_run):
    inputs = sex_run.inputs.dataset_inputs
    assert len(inputs) == 1
    dataset = inputs[0].dataset
    assert dataset.name == "penguins"
    assert "palmerpenguins" in dataset.source and dataset.digest
    assert '"num_rows": 333' in dataset.profile


def test_logged_model_loads_and_scores_raw_penguins(sex_run):
    model_uri = sex_run.data.tags["model_uri"]
    assert model_uri.startswith("models:/m-")
    model = mlflow.pyfunc.load_model(model_uri)
    assert model.metadata.signature is not None
    penguins = load_penguins().frame
    raw = penguins.loc[:, ["bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g", "island", "species"]]
    predicted = pd.Series(model.predict(raw))
    assert set(predicted) == {"female", "male"}
    assert (predicted == penguins["sex"]).mean() > 0.85
    with open(mlflow.pyfunc.get_model_dependencies(model_uri)) as pins:
        lines = pins.read().split()
    assert "mlflow==3.17.2" in lines and any(line.startswith("scikit-learn==") for line in lines)


def test_standalone_run_gives_identical_metrics(sex_run, tracking_uri, experiment):
    """`python -m steps.classify_sex` (no MLflow Projects) logs a new run with the same numbers."""
    env = tracking_env(tracking_uri, {"MLFLOW_EXPERIMENT_NAME": experiment})
    done = subprocess.run(
        [sys.executable, "-m", "steps.classify_sex"], cwd=PROJECT, env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-3000:]
    (run,) = runs_of(experiment)
    assert run.info.status == "FINISHED" and run.info.run_name == "classify_sex"
    assert {m: run.data.metrics[m] for m in METRICS} == {m: sex_run.data.metrics[m] for m in METRICS}
    assert run.data.params == {**sex_run.data.params, "data": ""}
