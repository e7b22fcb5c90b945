"""Helpers only the tests need: the real `mlflow run` CLI run or started, and the runs it left; a model served by
the real `mlflow models serve` and asked over REST, or loaded where this project is not importable.

The real services themselves (tracking server, processes, ports) and the command line are in harness/.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import subprocess
import sys
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import mlflow
import pandas as pd
from mlflow.entities import Run

from harness.cli import mlflow_run_command
from harness.servers import free_port, start_process, stop_process, wait_for_http
from steps import PROJECT

RUN_ID = re.compile(r"in run with ID '([0-9a-f]{32})'")


@dataclass
class CliResult:
    returncode: int
    stdout: str
    stderr: str
    run_id: str | None  # the run `mlflow run` created, when it got that far

    @property
    def error_lines(self) -> list[str]:
        return [line for line in self.stderr.splitlines() if line.startswith("error: ")]

    def run(self) -> Run:
        assert self.run_id, f"no run id in the output:\n{self.stderr[-3000:]}"
        return mlflow.get_run(self.run_id)


def fresh_python(code: str) -> subprocess.CompletedProcess:
    """`code` run in a fresh interpreter from the project's folder: a process's first JVM, its GC. It must exit 0."""
    done = subprocess.run([sys.executable, "-c", code], cwd=PROJECT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return done


def tracking_env(tracking_uri: str, env: dict | None = None) -> dict[str, str]:
    """This process's environment, plus `env`, logging to `tracking_uri`."""
    return {**os.environ, **(env or {}), "MLFLOW_TRACKING_URI": tracking_uri}


def mlflow_run(
    entry_point: str,
    experiment: str,
    tracking_uri: str,
    timeout: float = 300,
    env: dict | None = None,
    project: str = str(PROJECT),
    version: str | None = None,
    run_name: str | None = None,
    **params,
) -> CliResult:
    """`mlflow run <project> [-v <version>] [--run-name <run_name>] -e <entry_point> --env-manager local
    -P k=v ...`, as a user types it."""
    cmd = mlflow_run_command(project, entry_point, experiment, params, version, run_name)
    done = subprocess.run(
        cmd, capture_output=True, text=True, env=tracking_env(tracking_uri, env), timeout=timeout, cwd=PROJECT
    )
    match = RUN_ID.search(done.stderr)
    return CliResult(done.returncode, done.stdout, done.stderr, match.group(1) if match else None)


def start_mlflow_run(entry_point: str, experiment: str, tracking_uri: str, **params) -> subprocess.Popen:
    """`mlflow run` started, not waited for: in its own process group, as a terminal's foreground job
    (so a signal can reach it and everything it started), its output (stdout and stderr) in one text pipe."""
    cmd = mlflow_run_command(PROJECT, entry_point, experiment, params)
    return subprocess.Popen(
        cmd,
        env=tracking_env(tracking_uri),
        cwd=PROJECT,
        start_new_session=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def runs_of(experiment: str) -> list[Run]:
    found = mlflow.get_experiment_by_name(experiment)
    if found is None:
        return []
    return mlflow.search_runs([found.experiment_id], output_format="list", max_results=100_000)


def steps_of(main_run: Run) -> dict[str, Run]:
    """entry point -> the step run under this main run."""
    return {r.data.tags["penguins.step"]: r for r in child_runs(main_run)}


def child_runs(parent: Run) -> list[Run]:
    return mlflow.search_runs(
        [parent.info.experiment_id],
        filter_string=f"tags.mlflow.parentRunId = '{parent.info.run_id}'",
        output_format="list",
    )


@contextlib.contextmanager
def tracking_to(uri: str):
    """MLflow's global tracking URI set to `uri` for a while, then back to what it was (the session's server),
    or unset again."""
    previous = mlflow.get_tracking_uri() if mlflow.tracking.is_tracking_uri_set() else None
    mlflow.set_tracking_uri(uri)
    try:
        yield uri
    finally:
        mlflow.set_tracking_uri(previous)


def predict_elsewhere(model_uri: str, rows: pd.DataFrame, folder: Path) -> pd.DataFrame:
    """`mlflow.pyfunc.load_model(model_uri).predict(rows)` in a fresh process where this project cannot be imported:
    what a model carries is all it has."""
    script, data = folder / "score_elsewhere.py", folder / "rows_elsewhere.parquet"
    script.write_text(
        "import importlib.util, sys, mlflow, pandas as pd\n"
        "assert importlib.util.find_spec('steps') is None, sys.path\n"
        "rows = pd.read_parquet(sys.argv[2])\n"
        "print(mlflow.pyfunc.load_model(sys.argv[1]).predict(rows).to_json(orient='split'))\n"
    )
    rows.to_parquet(data)
    done = subprocess.run(
        [sys.executable, str(script), model_uri, str(data)],
        cwd=folder,
        capture_output=True,
        text=True,
        env={k: v for k, v in tracking_env(mlflow.get_tracking_uri()).items() if k != "PYTHONPATH"},
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return pd.read_json(io.StringIO(done.stdout.strip().splitlines()[-1]), orient="split")


@contextlib.contextmanager
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


def post_text(url: str, text: str) -> tuple[int, str]:
    """The HTTP status and the body of one scoring request whose body is `text`, as it is."""
    request = urllib.request.Request(url, data=text.encode(), headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def post(url: str, body: dict) -> tuple[int, dict]:
    """The HTTP status and the JSON answer of one scoring request."""
    status, text = post_text(url, json.dumps(body))
    return status, json.loads(text)
