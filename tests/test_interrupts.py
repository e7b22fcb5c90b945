"""Ctrl-C and SIGTERM in the middle of a sweep and of `main`: no run stays RUNNING, every process
(Spark's JVM and Python workers included) is gone, and the exit code says it was stopped."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import mlflow
import pytest

from tests.support import PROJECT, runs_of

# A sweep far longer than the time the test takes to notice it has started (360 eps runs; the
# default 27 can finish before a loaded machine delivers the signal, leaving nothing to stop).
LONG_SWEEP = ",".join(f"{0.05 * i:.2f}" for i in range(1, 121))


def start_mlflow_run(entry_point: str, experiment: str, tracking_uri: str, **params) -> subprocess.Popen:
    """`mlflow run` in its own process group, as a terminal's foreground job."""
    cmd = [sys.executable, "-m", "mlflow", "run", str(PROJECT), "-e", entry_point, "--env-manager", "local",
           "--experiment-name", experiment, *[f"-P{k}={v}" for k, v in params.items()]]  # fmt: skip
    env = {**os.environ, "MLFLOW_TRACKING_URI": tracking_uri}
    return subprocess.Popen(cmd, env=env, cwd=PROJECT, start_new_session=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)  # fmt: skip


def wait_until(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.5)


def wait_for_run_tagged(process: subprocess.Popen, experiment: str, tag: str, value: str) -> None:
    """Until a run with tag=value exists; fails at once, with its output, if `mlflow run` has ended."""

    def found() -> bool:  # one cheap query, not a listing of every run: the server is busy with the sweep
        where = mlflow.get_experiment_by_name(experiment)
        query = f"tags.`{tag}` = '{value}'"
        return bool(where and mlflow.search_runs([where.experiment_id], query, max_results=1, output_format="list"))

    wait_until(lambda: found() or process.poll() is not None, 240, f"a run with {tag}={value}")
    assert process.poll() is None, process.communicate()[0][-3000:]


def group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
        return True
    except ProcessLookupError:
        return False


def stop_and_check(process: subprocess.Popen, sig: int, experiment: str) -> list:
    os.killpg(process.pid, sig)  # the whole foreground group, as Ctrl-C or a scheduler does
    output, _ = process.communicate(timeout=180)
    assert process.returncode != 0, output[-3000:]
    wait_until(lambda: not group_alive(process.pid), 60, "every process of the run to exit")
    runs = runs_of(experiment)
    running = [r.info.run_name for r in runs if r.info.status == "RUNNING"]
    assert not running, output[-3000:]
    return runs


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_stopping_a_sweep_leaves_nothing_running(sig, tracking_uri, experiment):
    process = start_mlflow_run("cluster_islands", experiment, tracking_uri, eps=LONG_SWEEP)
    # Stop it once the sweep is logging from the Spark tasks.
    wait_for_run_tagged(process, experiment, "penguins.level", "eps")
    runs = stop_and_check(process, sig, experiment)
    (job,) = [r for r in runs if r.data.tags.get("mlflow.project.entryPoint") == "cluster_islands"]
    assert job.info.status in ("KILLED", "FAILED")
    # A group or eps run the stop cut short says so; the finished ones stay as they were.
    children = [r for r in runs if r.data.tags.get("penguins.job_run_id") == job.info.run_id]
    assert children
    assert all(r.info.status == "FINISHED" or "stopped" in r.data.tags.get("error", "")
               or "failed" in r.data.tags.get("error", "") for r in children)  # fmt: skip


def test_stopping_main_leaves_nothing_running(tracking_uri, experiment):
    process = start_mlflow_run("main", experiment, tracking_uri, eps="0.5", force="true")
    wait_for_run_tagged(process, experiment, "mlflow.project.entryPoint", "tune_body_mass")  # the second step
    runs = stop_and_check(process, signal.SIGINT, experiment)
    main = mlflow.get_run(next(r.info.run_id for r in runs if r.data.tags.get("mlflow.project.entryPoint") == "main"))
    assert main.info.status in ("KILLED", "FAILED")
    # The steps run at once; each was stopped with main (or had finished), none was left half-done.
    steps = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == main.info.run_id]
    assert len(steps) == 4
    assert all(r.info.status in ("KILLED", "FAILED", "FINISHED") for r in steps)
