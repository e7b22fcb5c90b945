"""Models served over REST by `mlflow models serve`, scoring raw penguins: classify_sex's, and the clustering router
from the registry, as the README shows."""

from __future__ import annotations

import json
import os
import sys
import urllib.error
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import mlflow
import pandas as pd
import pytest
from mlflow.tracking import MlflowClient

from harness.servers import free_port, start_process, stop_process, wait_for_http
from steps.ml import clustering
from steps.ml.data import load_penguins
from steps.pipeline.registry import register_champion
from tests.support import child_runs, mlflow_run

pytestmark = [pytest.mark.e2e]

TWO_PENGUINS = {
    "dataframe_split": {
        "columns": ["bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g", "island", "species"],
        # A big Gentoo male and a small Adelie female, from the data set.
        "data": [[50.0, 16.3, 230.0, 5700.0, "Biscoe", "Gentoo"], [36.7, 19.3, 193.0, 3450.0, "Torgersen", "Adelie"]],
    }
}


@contextmanager
def served(model_uri: str, tracking_uri: str, log: Path):
    """`mlflow models serve -m <model_uri> --env-manager local` on a free port; yields its invocations URL."""
    port = free_port()
    serve = [sys.executable, "-m", "mlflow", "models", "serve", "-m", model_uri, "--env-manager", "local"]
    cmd = [*serve, "--host", "127.0.0.1", "--port", str(port), "--workers", "1"]
    server = start_process(cmd, log, env={**os.environ, "MLFLOW_TRACKING_URI": tracking_uri})
    try:
        wait_for_http(f"http://127.0.0.1:{port}/ping", server, timeout=120, log=log)
        yield f"http://127.0.0.1:{port}/invocations"
    finally:
        stop_process(server)


def post(url: str, body: dict) -> tuple[int, dict]:
    """The HTTP status and the JSON answer of one scoring request."""
    request = urllib.request.Request(url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as error:
        return error.code, json.load(error)


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
    register_champion(MlflowClient(), "penguins-clusters-island", job.data.tags["model_uri"])
    penguins = load_penguins().frame
    rows = penguins.groupby("island").head(3).loc[:, ["island", *clustering.FEATURES]]
    unknown = rows.head(1).assign(island="Atlantis")

    with served("models:/penguins-clusters-island@champion", tracking_uri, tmp_path / "serve.log") as url:
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
