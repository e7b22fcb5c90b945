"""Models served over REST by `mlflow models serve`, scoring raw penguins: classify_sex's, and the clustering router
from the registry, as the README shows."""

from __future__ import annotations

import json

import mlflow
import pandas as pd
import pytest
from mlflow.tracking import MlflowClient

from harness.cli import fresh_experiment_name
from steps.ml import clustering
from steps.ml.data import load_penguins
from steps.pipeline.registry import ALIAS, Candidate, register_challenger
from tests.support import child_runs, mlflow_run, post, served

pytestmark = [pytest.mark.e2e]

TWO_PENGUINS = {
    "dataframe_split": {
        "columns": ["bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g", "island", "species"],
        # A big Gentoo male and a small Adelie female, from the data set.
        "data": [[50.0, 16.3, 230.0, 5700.0, "Biscoe", "Gentoo"], [36.7, 19.3, 193.0, 3450.0, "Torgersen", "Adelie"]],
    }
}


def test_served_model_scores_two_raw_penguins(tracking_uri, experiment, tmp_path):
    result = mlflow_run("classify_sex", experiment, tracking_uri)
    assert result.returncode == 0, result.stderr[-3000:]
    model_uri = result.run().data.tags["model_uri"]

    with served(model_uri, tracking_uri, tmp_path / "serve.log") as url:
        status, answer = post(url, TWO_PENGUINS)
    assert status == 200
    served_labels = answer["predictions"]

    assert served_labels == ["male", "female"]
    local = mlflow.pyfunc.load_model(model_uri).predict(pd.DataFrame(**TWO_PENGUINS["dataframe_split"]))
    assert served_labels == list(local)


@pytest.mark.spark
def test_the_registered_clustering_router_scores_penguins_of_every_island(tracking_uri, experiment, tmp_path):
    result = mlflow_run("cluster_islands", experiment, tracking_uri, eps="0.3,0.5,0.9")
    assert result.returncode == 0, result.stderr[-3000:]
    job = result.run()
    # A name of its own: the session's server holds main's penguins-clusters-island, judged by other tests.
    name = fresh_experiment_name("penguins-clusters-island")
    registration = register_challenger(MlflowClient(), Candidate(name, job.data.tags["model_uri"]), judge=None)
    assert registration.champion == "1" and registration.line() == f"{name}: challenger v1 promoted: first version"
    penguins = load_penguins().frame
    rows = penguins.groupby("island").head(3).loc[:, ["island", *clustering.FEATURES]]
    unknown = rows.head(1).assign(island="Atlantis")

    with served(f"models:/{name}@{ALIAS}", tracking_uri, tmp_path / "serve.log") as url:
        status, answer = post(url, {"dataframe_split": rows.to_dict(orient="split", index=False)})
        refused, error = post(url, {"dataframe_split": unknown.to_dict(orient="split", index=False)})

    assert status == 200
    labelled = pd.DataFrame(answer["predictions"])
    assert labelled["group"].tolist() == rows["island"].tolist()
    for group in child_runs(job):  # each island's rows as its own chosen model labels them
        island = group.data.tags["penguins.group"]
        mine = rows["island"] == island
        own = mlflow.pyfunc.load_model(group.data.tags["best_model_uri"]).predict(
            rows.loc[mine, list(clustering.FEATURES)]
        )
        assert labelled.loc[mine.to_numpy(), "cluster"].tolist() == list(own)
        assert set(labelled.loc[mine.to_numpy(), "eps"]) == {float(group.data.tags["best_eps"])}
    assert refused == 400 and error["error_code"] == "INVALID_PARAMETER_VALUE"
    assert "island: unknown group(s) 'Atlantis'; this model knows 'Biscoe', 'Dream', 'Torgersen'" in error["message"]
    assert "Traceback" not in json.dumps(error)
