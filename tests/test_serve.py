"""The classify_sex model served over REST by `mlflow models serve`, scoring raw penguins."""

from __future__ import annotations

import json
import os
import sys
import urllib.request

import mlflow
import pandas as pd
import pytest

from harness.servers import free_port, start_process, stop_process, wait_for_http
from tests.support import mlflow_run

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

    port = free_port()
    log = tmp_path / "serve.log"
    serve = [sys.executable, "-m", "mlflow", "models", "serve", "-m", model_uri, "--env-manager", "local"]
    cmd = [*serve, "--host", "127.0.0.1", "--port", str(port), "--workers", "1"]
    server = start_process(cmd, log, env={**os.environ, "MLFLOW_TRACKING_URI": tracking_uri})
    try:
        wait_for_http(f"http://127.0.0.1:{port}/ping", server, timeout=120, log=log)
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/invocations",
            data=json.dumps(TWO_PENGUINS).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=60) as response:
            served = json.load(response)["predictions"]
    finally:
        stop_process(server)

    assert served == ["male", "female"]
    local = mlflow.pyfunc.load_model(model_uri).predict(pd.DataFrame(**TWO_PENGUINS["dataframe_split"]))
    assert served == list(local)
