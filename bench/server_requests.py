"""What one eps run costs the tracking server: its CPU time per request, by request.

    python bench/server_requests.py             # a fresh `mlflow server`, as the tests start it (uvicorn)
    python bench/server_requests.py --calls 200 --http-server gunicorn

Makes each of the requests an eps run makes (bench/cluster_sweep.py logs 27 of them), one
kind at a time, one after another, and prints the wall time and the server's own CPU time
(the server process and its children, from /proc) per call. Linux only.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from anywhere

import requests
from mlflow import MlflowClient
from mlflow.entities import LoggedModelOutput, LoggedModelStatus, Metric, Param
from mlflow.store.artifact.artifact_repository_registry import get_artifact_repository

from harness.cli import fresh_experiment_name
from harness.servers import cpu_seconds, start_tracking_server, stop_process


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=100, help="calls of each kind")
    parser.add_argument("--http-server", choices=("uvicorn", "gunicorn"), default="uvicorn")
    args = parser.parse_args()
    os.environ["MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT"] = "true"
    with tempfile.TemporaryDirectory() as tmp:
        uri, server = start_tracking_server(Path(tmp), http_server=args.http_server)
        try:
            client = MlflowClient(uri)
            experiment_id = client.create_experiment(fresh_experiment_name("bench-server-requests"))
            file = Path(tmp, "MLmodel")
            file.write_text("x" * 500)
            runs, models = [], []
            http = requests.Session()
            kinds = {
                "GET /health (no store)": lambda i: http.get(f"{uri}/health"),
                "create run, 6 tags": lambda i: runs.append(
                    client.create_run(experiment_id, tags={f"t{k}": "v" for k in range(6)}).info.run_id
                ),
                "create logged model": lambda i: models.append(
                    client.create_logged_model(experiment_id, name="dbscan", source_run_id=runs[i])
                ),
                "upload one model file": lambda i: get_artifact_repository(
                    models[i].artifact_location, tracking_uri=uri
                ).log_artifact(str(file)),
                "finalize logged model": lambda i: client.finalize_logged_model(
                    models[i].model_id, LoggedModelStatus.READY
                ),
                "link model to run (log_outputs)": lambda i: client.log_outputs(
                    runs[i], models=[LoggedModelOutput(models[i].model_id, step=0)]
                ),
                "log_batch, 4 params + 7 metrics": lambda i: client.log_batch(
                    runs[i],
                    params=[Param(f"p{k}", "1") for k in range(4)],
                    metrics=[Metric(f"m{k}", 1.0, 0, 0) for k in range(7)],
                ),
                "log_batch, 1 tag": lambda i: client.set_tag(runs[i], "k", "v"),
                "terminate run": lambda i: client.set_terminated(runs[i], "FINISHED"),
            }
            print(f"{'request':34} {'wall ms':>8} {'server CPU ms':>14}")
            for label, call in kinds.items():
                cpu, started = cpu_seconds(server.pid), time.perf_counter()
                for i in range(args.calls):
                    call(i)
                wall = (time.perf_counter() - started) / args.calls * 1000
                used = (cpu_seconds(server.pid) - cpu) / args.calls * 1000
                print(f"{label:34} {wall:8.1f} {used:14.1f}", flush=True)
        finally:
            stop_process(server)


if __name__ == "__main__":
    main()
