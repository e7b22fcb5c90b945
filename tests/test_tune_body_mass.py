"""End to end: `mlflow run . -e tune_body_mass` against a real tracking server."""

from __future__ import annotations

import math

import mlflow
import pytest
from mlflow.tracking import MlflowClient

from harness.cli import fresh_experiment_name
from steps.ml.body_mass import FEATURES
from steps.ml.data import load_penguins
from tests.support import child_runs, mlflow_run

pytestmark = [pytest.mark.e2e]


@pytest.fixture(scope="module")
def tuned(tracking_uri):
    result = mlflow_run("tune_body_mass", fresh_experiment_name("tune"), tracking_uri)
    assert result.returncode == 0, result.stderr[-3000:]
    parent = result.run()
    return parent, child_runs(parent)


def test_one_child_run_per_alpha(tuned):
    parent, children = tuned
    assert parent.info.status == "FINISHED"
    assert sorted(float(c.data.params["alpha"]) for c in children) == [0.05, 0.1, 0.5, 1, 2, 5]
    assert all(c.info.status == "FINISHED" for c in children)


def test_best_alpha_is_the_child_with_lowest_rmse(tuned):
    parent, children = tuned
    # autolog logs each child's mean_test_score: the negated mean squared error.
    rmse = {float(c.data.params["alpha"]): math.sqrt(-c.data.metrics["mean_test_score"]) for c in children}
    best = min(rmse, key=rmse.get)
    assert float(parent.data.params["best_alpha"]) == best
    assert parent.data.metrics["best_cv_rmse"] == pytest.approx(rmse[best])


def test_plot_and_table_are_logged(tuned):
    parent, _ = tuned
    names = {f.path for f in MlflowClient().list_artifacts(parent.info.run_id)}
    assert {"rmse_by_alpha.png", "rmse_by_alpha.json"} <= names


def test_every_run_records_the_dataset(tuned):
    parent, children = tuned
    digests = [
        [i.dataset.digest for i in r.inputs.dataset_inputs if i.dataset.name == "penguins"] for r in (parent, *children)
    ]
    assert all(len(d) == 1 for d in digests)
    assert len({d[0] for d in digests}) == 1


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


def test_custom_alphas_give_one_child_each(tracking_uri, experiment):
    result = mlflow_run("tune_body_mass", experiment, tracking_uri, alphas="0.5,50,500")
    assert result.returncode == 0, result.stderr[-3000:]
    children = child_runs(result.run())
    assert sorted(float(c.data.params["alpha"]) for c in children) == [0.5, 50, 500]
