"""End to end: `mlflow run . -e classify_sex` against a real tracking server."""

from __future__ import annotations

import subprocess
import sys

import mlflow
import pandas as pd
import pytest
from mlflow.tracking import MlflowClient
from sklearn import metrics as sk

from harness.cli import fresh_experiment_name
from steps import PROJECT
from steps.ml import sex
from steps.ml.data import load_penguins
from steps.tracking.models import HELDOUT_ROWS
from tests.support import mlflow_run, runs_of, tracking_env

pytestmark = [pytest.mark.e2e]

METRICS = ("train_acc", "eval_acc", "auc_score", "reloaded_eval_acc")
# What mlflow.models.evaluate logs for a binary classifier with probabilities (`score`: the pipeline's own).
EVALUATE_METRICS = {
    "true_negatives",
    "false_positives",
    "false_negatives",
    "true_positives",
    "example_count",
    "accuracy_score",
    "recall_score",
    "precision_score",
    "f1_score",
    "log_loss",
    "roc_auc",
    "precision_recall_auc",
    "score",
}
PLOTS = (
    "confusion_counts.png",
    "roc_curve_plot.png",
    "precision_recall_curve_plot.png",
    "lift_curve_plot.png",
    "calibration_curve_plot.png",
    "confusion_matrix.png",
)


@pytest.fixture(scope="module")
def sex_run(tracking_uri):
    result = mlflow_run("classify_sex", fresh_experiment_name("classify-sex"), tracking_uri)
    assert result.returncode == 0, result.stderr[-3000:]
    return result.run()


@pytest.fixture(scope="module")
def heldout(sex_run):
    path = mlflow.artifacts.download_artifacts(run_id=sex_run.info.run_id, artifact_path=HELDOUT_ROWS)
    return pd.read_parquet(path)


def test_run_finishes_with_the_metrics(sex_run):
    assert sex_run.info.status == "FINISHED"
    assert set(sex_run.data.metrics) == {*METRICS, *EVALUATE_METRICS}
    # MLflow Projects logs each value as it quoted it for the shell: the empty `data` as "''".
    assert sex_run.data.params == {"data": "''", "test_size": "0.2", "seed": "42", "C": "1.0", "max_iter": "100"}


def test_auc_comes_from_probabilities(sex_run):
    auc = sex_run.data.metrics["auc_score"]
    assert auc > 0.9
    # A hard-label AUC can only take the values (TPR + TNR) / 2; the probability AUC is finer.
    assert auc > sex_run.data.metrics["eval_acc"]


def test_reloaded_model_scores_like_the_original(sex_run):
    assert sex_run.data.metrics["reloaded_eval_acc"] == sex_run.data.metrics["eval_acc"]


def test_the_tutorial_metrics_are_what_the_ml_code_computes(sex_run):
    """Bit for bit: evaluate, run after them, changes none of them."""
    data = sex.split(load_penguins().frame, test_size=0.2, seed=42)
    model = sex.fit_classifier(data.X_train, data.y_train, C=1.0, max_iter=100, seed=42)
    expected = sex.evaluate(model, data)
    assert {m: sex_run.data.metrics[m] for m in expected} == expected


def test_the_heldout_rows_are_the_test_set_as_the_data_set_has_it(heldout):
    expected = sex.heldout_rows(sex.split(load_penguins().frame, test_size=0.2, seed=42))
    assert list(heldout.columns) == [*sex.FEATURES, "sex"]
    assert len(heldout) == 67
    pd.testing.assert_frame_equal(heldout, expected.reset_index(drop=True))


def test_evaluate_metrics_are_what_scikit_learn_computes_on_the_heldout_rows(sex_run, heldout):
    model = mlflow.sklearn.load_model(sex_run.data.tags["model_uri"])
    logged = sex_run.data.metrics
    truth, predicted = heldout["sex"], model.predict(heldout.loc[:, list(sex.FEATURES)])
    is_male = (truth == "male").to_numpy()
    p_male = sex.positive_scores(model, heldout.loc[:, list(sex.FEATURES)])
    (tn, fp), (fn, tp) = sk.confusion_matrix(truth, predicted, labels=["female", "male"])
    assert [logged[m] for m in ("true_negatives", "false_positives", "false_negatives", "true_positives")] == [
        tn,
        fp,
        fn,
        tp,
    ]
    assert logged["example_count"] == 67
    assert logged["accuracy_score"] == logged["score"] == logged["eval_acc"] == sk.accuracy_score(truth, predicted)
    for name, metric in (("precision_score", sk.precision_score), ("recall_score", sk.recall_score)):
        assert logged[name] == metric(truth, predicted, pos_label="male")
    assert logged["f1_score"] == sk.f1_score(truth, predicted, pos_label="male")
    assert logged["log_loss"] == pytest.approx(sk.log_loss(is_male, p_male), rel=1e-12)
    # From P(male): male is the positive class, as for auc_score. The precision-recall "AUC" is the average precision.
    assert logged["roc_auc"] == logged["auc_score"] == sk.roc_auc_score(is_male, p_male)
    assert logged["precision_recall_auc"] == pytest.approx(sk.average_precision_score(is_male, p_male), rel=1e-12)


def test_plots_are_logged(sex_run):
    names = {f.path for f in MlflowClient().list_artifacts(sex_run.info.run_id)}
    assert names == {*PLOTS, HELDOUT_ROWS}  # the model is stored with the logged model, not the run
    assert "roc_curve.png" not in names  # evaluate's roc_curve_plot.png is the same curve
    for name in PLOTS:
        path = mlflow.artifacts.download_artifacts(run_id=sex_run.info.run_id, artifact_path=name)
        with open(path, "rb") as png:
            assert png.read(8) == b"\x89PNG\r\n\x1a\n"


def test_dataset_inputs_name_source_and_digest(sex_run):
    inputs = {i.dataset.name: i for i in sex_run.inputs.dataset_inputs}
    assert set(inputs) == {"penguins", "heldout_rows"}
    for name, rows in (("penguins", 333), ("heldout_rows", 67)):
        dataset = inputs[name].dataset
        assert "palmerpenguins" in dataset.source and dataset.digest
        assert f'"num_rows": {rows}' in dataset.profile
    assert [t.value for t in inputs["penguins"].tags] == ["training"]


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
    assert run.data.metrics == sex_run.data.metrics
    assert run.data.params == {**sex_run.data.params, "data": ""}
