"""Helpers only the tests need: the real `mlflow run` CLI run or started, and the runs it left.

The real services themselves (tracking server, processes, ports) and the command line are in harness/.
"""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import sys
from dataclasses import dataclass

import mlflow
from mlflow.entities import Run

from harness.cli import mlflow_run_command
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
