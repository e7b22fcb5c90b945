"""Helpers the tests share: real processes on loopback, the real `mlflow run` CLI."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import mlflow
from mlflow.entities import Run

from steps import PROJECT

RUN_ID = re.compile(r"in run with ID '([0-9a-f]{32})'")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_http(url: str, process: subprocess.Popen, timeout: float, log: Path) -> None:
    """Poll `url` until it answers 200; fail early (with the log) if `process` dies."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{process.args[:3]} exited {process.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise TimeoutError(f"{url} did not answer within {timeout} s:\n{log.read_text()[-3000:]}")


def start_process(cmd: list[str], log: Path, **kwargs) -> subprocess.Popen:
    """Start `cmd` in its own process group (so it can be stopped with its children), output to `log`."""
    with log.open("wb") as out:
        return subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, start_new_session=True, **kwargs)


def stop_process(process: subprocess.Popen, timeout: float = 15) -> None:
    """Stop a process we started, and its group, by PID: SIGTERM, then SIGKILL."""
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout)


def use_wal(database: Path) -> None:
    """Put the SQLite file (created if new) in write-ahead-log mode; it stays so. A server on it commits
    without rewriting a rollback journal, and readers do not wait for writers: the sweep's
    27 eps runs log about 20% faster than in SQLite's default mode."""
    with contextlib.closing(sqlite3.connect(database)) as connection:
        connection.execute("PRAGMA journal_mode=WAL")


def cpu_seconds(pid: int) -> float:
    """User + system CPU of `pid` and its children (the server runs uvicorn in a child)."""
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    total = 0
    for process in (pid, *map(int, children)):
        fields = Path(f"/proc/{process}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def start_tracking_server(
    root: Path, extra_args: tuple[str, ...] = (), env: dict | None = None, port: int | None = None
):
    """A real `mlflow server` on 127.0.0.1 (a free port unless given): SQLite (WAL) under `root`,
    proxied artifacts, one worker (on SQLite about 5x faster than four). Returns (uri, process)
    once /health answers."""
    port = port or free_port()
    use_wal(root / "mlflow.db")
    cmd = [sys.executable, "-m", "mlflow", "server", "--backend-store-uri", f"sqlite:///{root / 'mlflow.db'}",
           "--artifacts-destination", str(root / "artifacts"), "--serve-artifacts", "--host", "127.0.0.1",
           "--port", str(port), "--workers", "1", *extra_args]  # fmt: skip
    log = root / "server.log"
    # No GenAI job runners: they poll in the background and compete for the two cores.
    process = start_process(cmd, log, env={**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false", **(env or {})})
    uri = f"http://127.0.0.1:{port}"
    try:
        wait_for_http(f"{uri}/health", process, timeout=120, log=log)
    except BaseException:
        stop_process(process)
        raise
    return uri, process


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


def mlflow_run(
    entry_point: str,
    experiment: str,
    tracking_uri: str,
    timeout: float = 300,
    env: dict | None = None,
    project: str = str(PROJECT),
    version: str | None = None,
    **params,
) -> CliResult:
    """`mlflow run <project> [-v <version>] -e <entry_point> --env-manager local -P k=v ...`, as a user types it."""
    cmd = [sys.executable, "-m", "mlflow", "run", project, *(["-v", version] if version else [])]
    cmd += [
        "-e",
        entry_point,
        "--env-manager",
        "local",
        "--experiment-name",
        experiment,
    ]
    for name, value in params.items():
        cmd += ["-P", f"{name}={value}"]
    env = {**os.environ, **(env or {}), "MLFLOW_TRACKING_URI": tracking_uri}
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout, cwd=PROJECT)
    match = RUN_ID.search(done.stderr)
    return CliResult(done.returncode, done.stdout, done.stderr, match.group(1) if match else None)


def runs_of(experiment: str) -> list[Run]:
    found = mlflow.get_experiment_by_name(experiment)
    if found is None:
        return []
    return mlflow.search_runs([found.experiment_id], output_format="list", max_results=1000)


def child_runs(parent: Run) -> list[Run]:
    return mlflow.search_runs(
        [parent.info.experiment_id],
        filter_string=f"tags.mlflow.parentRunId = '{parent.info.run_id}'",
        output_format="list",
    )
