"""Ctrl-C and SIGTERM in the middle of a sweep and of `main`: the stopped step's run ends KILLED (but see
CLI_RUN_AFTER_CTRL_C), and so does every run under it that was still running, its `error` tag saying it was
stopped; every process (Spark's JVM and Python workers included) is gone, and the step says so on stderr."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from pathlib import Path

import mlflow
import pytest
from mlflow.entities import Run

from steps.main import STEPS
from steps.tracking.runner import was_stopped
from tests.support import runs_of, start_mlflow_run

pytestmark = [pytest.mark.e2e, pytest.mark.spark]

# A sweep far longer than the time the test takes to notice it has started (360 eps runs; the
# default 27 can finish before a loaded machine delivers the signal, leaving nothing to stop).
LONG_SWEEP = ",".join(f"{0.05 * i:.2f}" for i in range(1, 121))
# What run_step prints when a stop ends it: a Ctrl-C, or a SIGTERM (`mlflow run`, itself
# stopped by the Ctrl-C, also sends one to the step it started).
STOPPED_LINE = re.compile(r"^error: (interrupted|terminated \(SIGTERM\))$", re.M)
# On Ctrl-C, `mlflow run` itself ends the run it created FAILED after the step has ended it KILLED
# (MLflow 3.17.2: mlflow.projects._maybe_set_run_terminated compares the status text with RunStatus's
# numbers, so it never sees that the run has ended). Its `error` tag still says it was stopped.
CLI_RUN_AFTER_CTRL_C = "FAILED"


def wait_until(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.5)


def search(experiment: str, query: str, max_results: int = 1) -> list[Run]:
    """One cheap query, not a listing of every run: the server is busy with the sweep."""
    where = mlflow.get_experiment_by_name(experiment)
    if where is None:
        return []
    return mlflow.search_runs([where.experiment_id], query, max_results=max_results, output_format="list")


def wait_while_running(process: subprocess.Popen, condition, what: str) -> None:
    """Until `condition()`; fails at once, with its output, if `mlflow run` has ended."""
    wait_until(lambda: condition() or process.poll() is not None, 240, what)
    assert process.poll() is None, process.communicate()[0][-3000:]


def group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
        return True
    except ProcessLookupError:
        return False


def processes_in_group(pgid: int) -> list[str]:
    """The command lines of the processes still in the group, for the failure message."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if int(stat.read_text().rsplit(")", 1)[1].split()[2]) == pgid:  # state, ppid, pgrp
                found.append((stat.parent / "cmdline").read_bytes().replace(b"\0", b" ").decode()[:200])
        except (OSError, IndexError, ValueError):
            pass  # gone meanwhile
    return found


def stop_and_check(process: subprocess.Popen, sig: int, experiment: str) -> tuple[str, list[Run]]:
    """Send `sig` to the whole foreground group, as Ctrl-C or a scheduler does; wait until every process
    of it has exited. Returns the output and every run of the experiment, none of them RUNNING."""
    os.killpg(process.pid, sig)
    try:
        output, _ = process.communicate(timeout=180)  # until the last process holding the output exits
        wait_until(lambda: not group_alive(process.pid), 60, "every process of the run to exit")
    except (subprocess.TimeoutExpired, AssertionError):
        pytest.fail(f"processes of the run did not exit: {processes_in_group(process.pid)}")
    finally:
        if group_alive(process.pid):
            os.killpg(process.pid, signal.SIGKILL)  # leave nothing of ours running on the machine
    assert process.returncode != 0, output[-3000:]
    assert STOPPED_LINE.search(output), output[-3000:]
    runs = runs_of(experiment)
    running = [r.info.run_name for r in runs if r.info.status == "RUNNING"]
    assert not running, output[-3000:]
    return output, runs


def assert_finished_or_stopped(runs: list[Run]) -> None:
    """A run the stop cut short ended KILLED and says so in its `error` tag; the finished ones stay as they were."""
    for run in runs:
        if run.info.status != "FINISHED":
            assert run.info.status == "KILLED", (run.info.run_name, run.info.status, run.data.tags.get("error"))
            assert "stopped" in run.data.tags.get("error", ""), (run.info.run_name, run.data.tags.get("error"))


def assert_stopped(run: Run, status: str) -> None:
    """The run ended `status`, its `error` tag saying a stop ended it (`<step> was stopped (Ctrl-C)`)."""
    seen = (run.info.run_name, run.info.status, run.data.tags.get("error"))
    assert run.info.status == status and was_stopped(run), seen


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_stopping_a_sweep_ends_its_runs_killed(sig, tracking_uri, experiment):
    process = start_mlflow_run("cluster_islands", experiment, tracking_uri, eps=LONG_SWEEP)
    # Stop it once the sweep is logging from the Spark tasks.
    wait_while_running(process, lambda: search(experiment, "tags.`penguins.level` = 'eps'"), "the first eps run")
    _, runs = stop_and_check(process, sig, experiment)
    (job,) = [r for r in runs if r.data.tags.get("mlflow.project.entryPoint") == "cluster_islands"]
    children = [r for r in runs if r.data.tags.get("penguins.job_run_id") == job.info.run_id]
    assert len(children) == len(runs) - 1
    assert_finished_or_stopped(children)
    # Each group was still sweeping (120 eps each): its run was stopped, not finished.
    groups = [r for r in children if r.data.tags.get("penguins.level") == "group"]
    assert groups and all(g.info.status == "KILLED" for g in groups)
    assert_stopped(job, CLI_RUN_AFTER_CTRL_C if sig == signal.SIGINT else "KILLED")


@pytest.mark.slow
def test_stopping_main_ends_it_and_its_running_steps_killed(tracking_uri, experiment):
    # A long sweep, so cluster_islands is surely still running when the stop comes.
    process = start_mlflow_run("main", experiment, tracking_uri, eps=LONG_SWEEP, force="true")

    def every_step_under_way() -> bool:
        """Each step is done, or well into its work: the scikit-learn steps have logged the data set,
        classify_species has its Spark session, cluster_islands is logging eps runs.

        Not earlier: a step stopped while its Spark JVM is starting leaves that JVM running
        (pyspark does not stop a gateway it is still waiting for), and one stopped while still
        importing never reaches run_step."""
        found = search(experiment, "tags.`mlflow.project.entryPoint` = 'main'")
        if not found or not search(experiment, "tags.`penguins.level` = 'eps'"):
            return False
        under_main = search(experiment, f"tags.`mlflow.parentRunId` = '{found[0].info.run_id}'", max_results=100)
        steps = {r.data.tags.get("mlflow.project.entryPoint"): r for r in under_main}
        under_way = {
            "classify_sex": lambda r: bool(r.inputs.dataset_inputs),
            "tune_body_mass": lambda r: bool(r.inputs.dataset_inputs),
            "classify_species": lambda r: "spark_master" in r.data.tags,
            "cluster_islands": lambda r: True,  # its eps runs are being logged
        }
        return set(steps) == set(STEPS) and all(
            r.info.status == "FINISHED" or under_way[name](r) for name, r in steps.items()
        )

    wait_while_running(process, every_step_under_way, "every step of main to be under way")
    _, runs = stop_and_check(process, signal.SIGINT, experiment)
    (main,) = [r for r in runs if r.data.tags.get("mlflow.project.entryPoint") == "main"]
    under_main = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == main.info.run_id]
    steps = {r.data.tags["mlflow.project.entryPoint"]: r for r in under_main}
    assert sorted(steps) == sorted(STEPS)
    # Below the steps (tune_body_mass's alpha runs, the sweep's group and eps runs): finished, or stopped.
    named = {main.info.run_id, *(r.info.run_id for r in under_main)}
    assert_finished_or_stopped([r for r in runs if r.info.run_id not in named])
    # The steps run at once: each was stopped with main or had finished, none was left half-done.
    assert steps["cluster_islands"].info.status != "FINISHED"
    assert_stopped(main, CLI_RUN_AFTER_CTRL_C)
    for step in steps.values():
        if step.info.status != "FINISHED":
            assert_stopped(step, "KILLED")
