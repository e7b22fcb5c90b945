"""Benchmark the clustering router at 10, 100 and 1,000 groups: loading, serving, labelling, against the eager one.

    python bench/serve_router.py                     # sweeps of 10, 100 and 1,000 groups
    python bench/serve_router.py --groups 10,100

For each size, a CSV of that many groups (harness/tables.py, 110 rows each) is swept by `mlflow run .
-e cluster_islands -P log_models=best -P eps=0.5,1,1.5` as a user runs it, on a tracking server of
its own (`harness/`). Two routers of the same chosen models are then downloaded to local folders:

* this project's, the job run's `penguin_clusters` (steps/sweep/router_model.py): every group's
  core samples in one set of memory-mapped arrays, labelled in one pass;
* the baseline, the eager router this project served before (bench/eager_router.py, logged here
  from the same sweep): each chosen model's skops file in one zip, every one of them loaded by
  `load_context`, one scikit-learn call per group a batch meets.

For each router: `mlflow.pyfunc.load_model` in a fresh process (timed after its imports), that
process's resident memory added by loading and by using the router, `predict` there of 1 row (p50 of 200) and
of 1,000 random rows over every group (p50 of 20); `mlflow models serve` ready (from its start to
its first /ping answer); over REST, 1 row in 200 requests one after another (p50, p99), the same
from 8 concurrent clients, and 1,000 random rows (p50 of 10). Then each measure's ratio,
baseline / this project, and each router's load time at the largest size over the smallest.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
import zipfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from anywhere

import mlflow

from harness.cli import fresh_experiment_name, mlflow_run_command
from harness.servers import free_port, start_process, start_tracking_server, stop_process
from harness.tables import FEATURES, grouped_table, numbered_groups
from steps import PROJECT
from steps.sweep.router import router_signature
from steps.tracking.models import SKLEARN_REQUIREMENTS, carried_code, pinned

EAGER_ROUTER = Path(__file__).with_name("eager_router.py")
COLUMNS = ["site", *FEATURES]
EPS = "0.5,1,1.5"


@dataclass
class InProcess:
    load_s: float
    loaded_mb: float  # resident memory the load added
    used_mb: float  # and predicting 1,000 random rows 20 times over
    one_row_ms: float
    thousand_rows_ms: float


@dataclass
class Served:
    ready_s: float
    one_row_p50_ms: float
    one_row_p99_ms: float
    concurrent_p50_ms: float
    concurrent_p99_ms: float
    thousand_rows_ms: float


def rss_mb() -> float:
    """This process's resident memory now (VmRSS), MB."""
    status = Path("/proc/self/status").read_text()
    return int(status.split("VmRSS:", 1)[1].split()[0]) / 1024


def measure_in_process(model_dir: str, table_path: str) -> None:
    """In this fresh process: load the router, predict; print an InProcess as JSON."""
    table = pd.read_parquet(table_path)
    before = rss_mb()
    started = time.perf_counter()
    router = mlflow.pyfunc.load_model(model_dir)
    load_s = time.perf_counter() - started
    loaded = rss_mb() - before
    rng = np.random.default_rng(0)
    one = []
    for row in rng.integers(len(table), size=200):
        rows = table.iloc[[row]]
        started = time.perf_counter()
        router.predict(rows)
        one.append(time.perf_counter() - started)
    thousand = []
    for seed in range(20):
        rows = table.sample(1000, random_state=seed)
        started = time.perf_counter()
        router.predict(rows)
        thousand.append(time.perf_counter() - started)
    measured = InProcess(load_s, loaded, rss_mb() - before, np.median(one) * 1e3, np.median(thousand) * 1e3)
    print(json.dumps(asdict(measured)))


def in_process(model_dir: Path, table_path: Path) -> InProcess:
    command = [sys.executable, __file__, "--in-process", str(model_dir), str(table_path)]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        sys.exit(f"in-process measurement of {model_dir} failed:\n{done.stderr[-3000:]}")
    return InProcess(**json.loads(done.stdout.strip().splitlines()[-1]))


def split_body(rows: pd.DataFrame) -> bytes:
    return json.dumps({"dataframe_split": rows.loc[:, COLUMNS].to_dict(orient="split", index=False)}).encode()


def timed_posts(port: int, bodies: list[bytes]) -> list[float]:
    """Each body posted on one kept-alive connection, one after another: each request's seconds (all must be 200)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    seconds = []
    try:
        for body in bodies:
            started = time.perf_counter()
            connection.request("POST", "/invocations", body, {"Content-Type": "application/json"})
            response = connection.getresponse()
            response.read()
            seconds.append(time.perf_counter() - started)
            if response.status != 200:
                sys.exit(f"the served router answered {response.status}")
    finally:
        connection.close()
    return seconds


def served(model_dir: Path, table: pd.DataFrame, log: Path) -> Served:
    port = free_port()
    command = [sys.executable, "-m", "mlflow", "models", "serve", "-m", str(model_dir), "--env-manager", "local"]
    command += ["--host", "127.0.0.1", "--port", str(port), "--workers", "1"]
    started = time.perf_counter()
    server = start_process(command, log)
    try:
        while True:
            if server.poll() is not None:
                sys.exit(f"mlflow models serve exited {server.returncode}:\n{log.read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/ping", timeout=2):
                    break
            except OSError:
                time.sleep(0.02)
        ready = time.perf_counter() - started
        rng = np.random.default_rng(1)
        one_row = [split_body(table.iloc[[row]]) for row in rng.integers(len(table), size=200)]
        timed_posts(port, one_row[:20])  # the first requests warm the server up
        alone = timed_posts(port, one_row)
        with ThreadPoolExecutor(8) as pool:
            together = [
                s
                for client in pool.map(lambda part: timed_posts(port, part), [one_row[i::8] for i in range(8)])
                for s in client
            ]
        thousand = timed_posts(port, [split_body(table.sample(1000, random_state=seed)) for seed in range(10)])
    finally:
        stop_process(server)
    p50, p99 = (lambda s: np.percentile(s, 50) * 1e3), (lambda s: np.percentile(s, 99) * 1e3)
    return Served(ready, p50(alone), p99(alone), p50(together), p99(together), p50(thousand))


def sweep(groups: int, tracking_uri: str, folder: Path) -> tuple[str, pd.DataFrame, float]:
    """`mlflow run . -e cluster_islands` of `groups` generated groups: (its job run id, the table, seconds)."""
    table = grouped_table(numbered_groups(groups))
    data = folder / "sites.csv"
    table.to_csv(data, index=False)
    experiment = fresh_experiment_name(f"bench-router-{groups}")
    params = {"data": data, "group_by": "site", "features": ",".join(FEATURES), "log_models": "best", "eps": EPS}
    command = mlflow_run_command(PROJECT, "cluster_islands", experiment, params)
    started = time.perf_counter()
    done = subprocess.run(
        command, env={**os.environ, "MLFLOW_TRACKING_URI": tracking_uri}, capture_output=True, text=True
    )
    if done.returncode != 0:
        sys.exit(f"{groups} groups: mlflow run failed:\n{done.stderr[-3000:]}")
    seconds = time.perf_counter() - started
    run_id = next(line.split()[2] for line in done.stdout.splitlines() if line.startswith("cluster_islands: run "))
    return run_id, table, seconds


def log_eager_router(job_run_id: str, table: pd.DataFrame, folder: Path) -> str:
    """The eager router of the job's chosen models, as this project logged it before: routes.json and a zip of
    every chosen model's skops file, logged in a run of its own. Returns its URI."""
    # Here, not at the top: the in-process measurement imports this module, and the eager router's
    # load must pay for scikit-learn itself.
    from steps.sweep.task import CARRIED_MODULES, SKOPS_FILE, TRUSTED_TYPE

    client = mlflow.MlflowClient()
    chosen = pd.read_csv(mlflow.artifacts.download_artifacts(run_id=job_run_id, artifact_path="chosen_eps.csv"))
    groups = {}
    with zipfile.ZipFile(folder / "models.zip", "w", zipfile.ZIP_STORED) as zipped:
        for number, row in enumerate(chosen.itertuples(index=False)):
            defined = not pd.isna(row.eps)
            member = f"{number}.skops" if defined else None
            if defined:
                location = client.get_logged_model(row.model_uri.removeprefix("models:/")).artifact_location
                local = mlflow.artifacts.download_artifacts(
                    f"{location}/{SKOPS_FILE}", dst_path=str(folder / str(number))
                )
                zipped.write(local, member)
            reason = "" if defined else "no eps gave a defined s_dbw"
            groups[str(row.group)] = {"eps": float(row.eps) if defined else None, "reason": reason, "model": member}
    routes = {"group_by": "site", "features": list(FEATURES), "groups": groups, "trusted_types": [TRUSTED_TYPE]}
    (folder / "routes.json").write_text(json.dumps(routes, indent=1))
    experiment_id = client.get_run(job_run_id).info.experiment_id
    with mlflow.start_run(experiment_id=experiment_id, run_name="eager router (baseline)"):
        info = mlflow.pyfunc.log_model(
            name="eager_router",
            python_model=EAGER_ROUTER,
            artifacts={"routes": str(folder / "routes.json"), "models": str(folder / "models.zip")},
            code_paths=carried_code(folder / "code", *CARRIED_MODULES),
            signature=router_signature("site", FEATURES),
            input_example=table.groupby("site").head(1).head(3).loc[:, COLUMNS],
            pip_requirements=pinned(*SKLEARN_REQUIREMENTS),
        )
    return info.model_uri


def print_table(results: dict[tuple[int, str], tuple[InProcess, Served]], sweeps: dict[int, float]) -> None:
    header = (
        f"{'groups':>6} {'router':>7} {'load':>7} {'memory':>7} {'memory':>7} {'predict':>8} {'predict':>9}"
        f" {'rows/s':>9} {'serve':>7} {'REST 1 row':>13} {'8 clients':>13} {'REST':>9}"
    )
    units = (
        f"{'':>6} {'':>7} {'':>7} {'+loaded':>7} {'+used':>7} {'1 row':>8} {'1000 rows':>9} {'1000 rows':>9}"
        f" {'ready':>7} {'p50 / p99':>13} {'p50 / p99':>13} {'1000 rows':>9}"
    )
    print(f"\n{header}\n{units}")
    for (groups, name), (local, rest) in results.items():
        print(
            f"{groups:6d} {name:>7} {local.load_s:6.2f}s {local.loaded_mb:5.0f}MB {local.used_mb:5.0f}MB"
            f" {local.one_row_ms:6.2f}ms {local.thousand_rows_ms:7.1f}ms {1000 / local.thousand_rows_ms * 1000:9.0f}"
            f" {rest.ready_s:6.2f}s {rest.one_row_p50_ms:5.1f}/{rest.one_row_p99_ms:5.1f}ms"
            f" {rest.concurrent_p50_ms:5.1f}/{rest.concurrent_p99_ms:5.1f}ms {rest.thousand_rows_ms:7.1f}ms"
        )
    print("\nratio eager / this project (higher: this project is better):")
    for groups in sweeps:
        (eager, eager_rest), (ours, ours_rest) = results[groups, "eager"], results[groups, "ours"]
        pairs = {
            "load": (eager.load_s, ours.load_s),
            "memory loaded": (eager.loaded_mb, max(ours.loaded_mb, 1)),
            "predict 1 row": (eager.one_row_ms, ours.one_row_ms),
            "predict 1000 rows": (eager.thousand_rows_ms, ours.thousand_rows_ms),
            "serve ready": (eager_rest.ready_s, ours_rest.ready_s),
            "REST 1 row p50": (eager_rest.one_row_p50_ms, ours_rest.one_row_p50_ms),
            "REST 1000 rows": (eager_rest.thousand_rows_ms, ours_rest.thousand_rows_ms),
        }
        shown = ", ".join(f"{name} {a / b:.1f}x" for name, (a, b) in pairs.items())
        print(f"{groups:6d} groups (sweep {sweeps[groups]:.0f} s): {shown}")
    smallest, largest = min(sweeps), max(sweeps)
    for name in ("ours", "eager"):
        growth = results[largest, name][0].load_s / results[smallest, name][0].load_s
        print(f"load at {largest} groups / at {smallest}: {name} {growth:.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--groups", default="10,100,1000", help="comma-separated group counts")
    parser.add_argument("--in-process", nargs=2, metavar=("MODEL_DIR", "TABLE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.in_process:
        measure_in_process(*args.in_process)
        return
    os.environ["MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT"] = "true"
    results, sweeps = {}, {}
    with tempfile.TemporaryDirectory() as tmp:
        tracking_uri, server = start_tracking_server(Path(tmp))
        mlflow.set_tracking_uri(tracking_uri)
        try:
            for groups in (int(n) for n in args.groups.split(",")):
                folder = Path(tmp, f"groups-{groups}")
                folder.mkdir()
                job_run_id, table, sweeps[groups] = sweep(groups, tracking_uri, folder)
                print(f"{groups} groups swept in {sweeps[groups]:.1f} s", flush=True)
                table_path = folder / "rows.parquet"
                table.loc[:, COLUMNS].to_parquet(table_path)
                routers = {
                    "eager": log_eager_router(job_run_id, table, folder),
                    "ours": mlflow.get_run(job_run_id).data.tags["model_uri"],
                }
                for name, uri in routers.items():
                    local = Path(mlflow.artifacts.download_artifacts(uri, dst_path=str(folder / name)))
                    results[groups, name] = (
                        in_process(local, table_path),
                        served(local, table, folder / f"{name}.log"),
                    )
        finally:
            stop_process(server)
    print_table(results, sweeps)


if __name__ == "__main__":
    main()
