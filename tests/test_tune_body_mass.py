"""End to end: `mlflow run . -e tune_body_mass` against a real tracking server."""

from __future__ import annotations

import math

import mlflow
import pandas as pd
import pytest
from mlflow.tracking import MlflowClient
from sklearn import metrics as sk

from harness.cli import fresh_experiment_name
from steps.ml import body_mass
from steps.ml.body_mass import FEATURES
from steps.ml.data import load_penguins
from steps.tracking.models import HELDOUT_ROWS
from tests.support import child_runs, mlflow_run

pytestmark = [pytest.mark.e2e]

ALPHAS = [0.05, 0.1, 0.5, 1, 2, 5]
# What mlflow.models.evaluate logs for a regressor (`score`: the pipeline's own, R²).
EVALUATE_METRICS = {
    "example_count",
    "mean_absolute_error",
    "mean_squared_error",
    "root_mean_squared_error",
    "sum_on_target",
    "mean_on_target",
    "r2_score",
    "max_error",
    "mean_absolute_percentage_error",
    "score",
}
# What autolog logs on the search's run: the best CV score and the refit model's scores on its training rows.
AUTOLOG_METRICS = {
    "best_cv_score",
    "training_mean_absolute_error",
    "training_mean_squared_error",
    "training_r2_score",
    "training_root_mean_squared_error",
    "training_score",
}


def heldout_of(run) -> pd.DataFrame:
    return pd.read_parquet(mlflow.artifacts.download_artifacts(run_id=run.info.run_id, artifact_path=HELDOUT_ROWS))


@pytest.fixture(scope="module")
def tuned(tracking_uri):
    result = mlflow_run("tune_body_mass", fresh_experiment_name("tune"), tracking_uri)
    assert result.returncode == 0, result.stderr[-3000:]
    parent = result.run()
    return parent, child_runs(parent)


def test_one_child_run_per_alpha(tuned):
    parent, children = tuned
    assert parent.info.status == "FINISHED"
    assert set(parent.data.metrics) == {"best_cv_rmse", *AUTOLOG_METRICS, *EVALUATE_METRICS}
    assert {k: parent.data.params[k] for k in ("test_size", "seed", "alphas")} == {
        "test_size": "0.2",
        "seed": "42",
        "alphas": "0.05,0.1,0.5,1,2,5",
    }
    assert sorted(float(c.data.params["alpha"]) for c in children) == [0.05, 0.1, 0.5, 1, 2, 5]
    assert all(c.info.status == "FINISHED" for c in children)


def test_best_alpha_is_the_child_with_lowest_rmse(tuned):
    parent, children = tuned
    # autolog logs each child's mean_test_score: the negated mean squared error.
    rmse = {float(c.data.params["alpha"]): math.sqrt(-c.data.metrics["mean_test_score"]) for c in children}
    best = min(rmse, key=rmse.get)
    assert float(parent.data.params["best_alpha"]) == best
    assert parent.data.metrics["best_cv_rmse"] == pytest.approx(rmse[best])


def test_the_search_ran_on_the_training_rows_only(tuned):
    """The CV over the seeded 80 %, as the ML code computes it in this process: the same alpha and RMSE."""
    parent, _ = tuned
    train, _ = body_mass.split(load_penguins().frame, test_size=0.2, seed=42)
    search = body_mass.search_alpha(train, ALPHAS).named_steps["search"]
    table = body_mass.rmse_by_alpha(search)
    assert float(parent.data.params["best_alpha"]) == search.best_params_["alpha"]
    assert parent.data.metrics["best_cv_rmse"] == float(table.loc[search.best_index_, "cv_rmse"])


def test_the_heldout_rows_are_the_seeded_fifth(tuned):
    parent, _ = tuned
    heldout = heldout_of(parent)
    _, expected = body_mass.split(load_penguins().frame, test_size=0.2, seed=42)
    assert list(heldout.columns) == [*FEATURES, "body_mass_g"]
    assert len(heldout) == 67
    pd.testing.assert_frame_equal(heldout, expected.reset_index(drop=True))


def test_evaluate_metrics_are_what_scikit_learn_computes_on_the_heldout_rows(tuned):
    parent, _ = tuned
    heldout = heldout_of(parent)
    model = mlflow.sklearn.load_model(parent.data.tags["model_uri"])
    grams, predicted = heldout["body_mass_g"], model.predict(heldout.loc[:, list(FEATURES)])
    logged = parent.data.metrics
    assert logged["example_count"] == 67
    assert logged["sum_on_target"] == grams.sum() and logged["mean_on_target"] == pytest.approx(grams.mean())
    for name, metric in (
        ("mean_absolute_error", sk.mean_absolute_error),
        ("mean_squared_error", sk.mean_squared_error),
        ("root_mean_squared_error", sk.root_mean_squared_error),
        ("r2_score", sk.r2_score),
        ("max_error", sk.max_error),
        ("mean_absolute_percentage_error", sk.mean_absolute_percentage_error),
    ):
        assert logged[name] == pytest.approx(metric(grams, predicted), rel=1e-12), name
    assert logged["score"] == pytest.approx(logged["r2_score"], rel=1e-12)
    # Held-out rows the model never saw: a larger error than on its training rows.
    assert logged["root_mean_squared_error"] > logged["training_root_mean_squared_error"]


def test_plot_and_table_are_logged(tuned):
    parent, _ = tuned
    names = {f.path for f in MlflowClient().list_artifacts(parent.info.run_id)}
    assert {"rmse_by_alpha.png", "rmse_by_alpha.json", HELDOUT_ROWS} <= names


def test_every_run_records_the_dataset(tuned):
    parent, children = tuned
    digests = [
        [i.dataset.digest for i in r.inputs.dataset_inputs if i.dataset.name == "penguins"] for r in (parent, *children)
    ]
    assert all(len(d) == 1 for d in digests)
    assert len({d[0] for d in digests}) == 1
    (evaluated,) = [i.dataset for i in parent.inputs.dataset_inputs if i.dataset.name == "heldout_rows"]
    assert '"num_rows": 67' in evaluated.profile


def test_child_runs_are_named_by_alpha(tuned):
    _, children = tuned
    assert {c.info.run_name for c in children} == {f"alpha={float(c.data.params['alpha']):g}" for c in children}


def test_best_model_scores_raw_penguins(tuned):
    parent, _ = tuned
    model = mlflow.pyfunc.load_model(parent.data.tags["model_uri"])
    penguins = load_penguins().frame
    grams = model.predict(penguins.loc[:, list(FEATURES)].head(20))
    error = grams - penguins["body_mass_g"].head(20).to_numpy()
    assert math.sqrt((error**2).mean()) < 600


def test_custom_alphas_test_size_and_seed(tracking_uri, experiment):
    result = mlflow_run("tune_body_mass", experiment, tracking_uri, alphas="0.5,50,500", test_size="0.3", seed="7")
    assert result.returncode == 0, result.stderr[-3000:]
    run = result.run()
    children = child_runs(run)
    assert sorted(float(c.data.params["alpha"]) for c in children) == [0.5, 50, 500]
    heldout = heldout_of(run)
    assert len(heldout) == run.data.metrics["example_count"] == 100  # 30 % of 333, rounded up
    _, expected = body_mass.split(load_penguins().frame, test_size=0.3, seed=7)
    pd.testing.assert_frame_equal(heldout, expected.reset_index(drop=True))
