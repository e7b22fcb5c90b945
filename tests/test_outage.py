"""The tracking server dies in the middle of a sweep and comes back on the same port and store.

The steps bound MLflow's HTTP retries (steps/tracking/server.py: 5 retries, backoff factor 1, about
30 s in all) and pass them to Spark's executors, so a request that finds the server gone
is retried until it is back. A request whose answer the dying server never sent cannot be
retried safely (it may have been carried out), so it fails its Spark task; the task's
retry (as on a cluster, where spark.task.maxFailures is 4; here local[2,4]) resumes from
what was stored: finished runs are reused, half-logged ones redone. The sweep completes,
and every run and metric is there exactly once. (With no task retries, local[*], the
sweep fails instead, and every run it started ends FAILED: see test_cluster_islands.py.)
"""

from __future__ import annotations

import os
import signal
import time

import pytest
from mlflow.tracking import MlflowClient

from harness.cli import fresh_experiment_name
from harness.servers import free_port, start_tracking_server, stop_process
from tests.support import start_mlflow_run

pytestmark = [pytest.mark.e2e, pytest.mark.spark, pytest.mark.slow]

OUTAGE_S = 4
# 3 islands x 20 eps = 60 eps runs: long enough that the outage lands mid-sweep, which the test checks.
EPS = ",".join(f"{0.1 * i:.1f}" for i in range(1, 21))


def test_a_short_server_outage_mid_sweep_loses_and_duplicates_nothing(tmp_path):
    port = free_port()
    uri, server = start_tracking_server(tmp_path, port=port)
    experiment = fresh_experiment_name("outage")
    sweep = start_mlflow_run("cluster_islands", experiment, uri, spark_master="local[2,4]", eps=EPS)
    client = MlflowClient(uri)
    try:
        deadline = time.monotonic() + 300
        while True:  # kill the server once the tasks are logging eps runs
            found = client.get_experiment_by_name(experiment)
            runs = client.search_runs([found.experiment_id], "tags.`penguins.level` = 'eps'") if found else []
            if len(runs) >= 3:
                break
            assert time.monotonic() < deadline and sweep.poll() is None, "the sweep never started logging"
            time.sleep(0.3)
        killed_at_ms = int(time.time() * 1000)
        os.killpg(server.pid, signal.SIGKILL)
        server.wait(30)
        time.sleep(OUTAGE_S)
        uri, server = start_tracking_server(tmp_path, port=port)  # the same port and store
        output, _ = sweep.communicate(timeout=600)
    finally:
        stop_process(sweep)
        stop_process(server)
        uri, server = start_tracking_server(tmp_path, port=port)  # read what was stored

    try:
        assert sweep.returncode == 0, output[-4000:]
        client = MlflowClient(uri)
        runs = client.search_runs([client.get_experiment_by_name(experiment).experiment_id], max_results=1000)
        assert all(r.info.status == "FINISHED" for r in runs)
        eps_runs = [r for r in runs if r.data.tags.get("penguins.level") == "eps"]
        assert len([r for r in runs if r.data.tags.get("penguins.level") == "group"]) == 3
        assert len(eps_runs) == 60
        assert len({(r.data.params["group"], r.data.params["eps"]) for r in eps_runs}) == 60
        assert any(r.info.end_time > killed_at_ms for r in eps_runs), "the sweep had ended before the outage"
        for run in eps_runs:
            assert "n_clusters" in run.data.metrics and len(run.outputs.model_outputs) == 1
            assert len(client.get_metric_history(run.info.run_id, "n_clusters")) == 1
    finally:
        stop_process(server)
