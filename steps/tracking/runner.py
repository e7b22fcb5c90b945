"""The run of one entry point, written once: parameters, the run, the data set, errors, how it ends.

A step module declares its parameters and a body `(values, table) -> headline
metrics`; `run_step` does the rest:

* resumes the cyclic GC that `python -m steps.<step>` paused for the imports (steps/__init__.py);
* parses and validates the parameters (MLflow Projects checks no float/int itself);
* loads and validates the data set (the penguins; any table for a step that takes one);
* attaches to the run `mlflow run` created (MLFLOW_RUN_ID), or starts a new one when
  the module runs on its own (`python -m steps.<step>`), in the experiment and on the
  tracking server that MLflow's environment variables name (default: ./mlflow.db);
* names the run after what it is (`cluster_islands eps=0.5`, see run_name) unless the
  user named it (`mlflow run --run-name`);
* logs the parameters MLflow has not logged yet and the data set as a dataset input;
* ends the run FINISHED, or FAILED with an `error` tag, or KILLED on Ctrl-C or SIGTERM.

Bad input is one line on stderr and exit code 2; no run is left RUNNING.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import mlflow
from mlflow.entities import Param as LoggedParam
from mlflow.entities import RunTag
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient
from mlflow.utils.mlflow_tags import MLFLOW_PARENT_RUN_ID, MLFLOW_RUN_NAME

from steps import UserError, imports_done
from steps.cli.params import Param, parse_params, text
from steps.ml.data import Table, load_penguins
from steps.tracking.datasets import dataset_input
from steps.tracking.server import HTTP_RETRY_DEFAULTS, check_tracking_server, telemetry_off_unless_asked

DATA = Param("data", "", text, "CSV or Parquet path or URI; empty for the bundled penguins")
EXIT_BAD_INPUT = 2
EXIT_INTERRUPTED = 130  # Ctrl-C, as shells report it
EXIT_TERMINATED = 143  # SIGTERM
RUN_NAME_LENGTH = 120  # what the UI's run list shows without cutting


class Terminated(KeyboardInterrupt):
    """SIGTERM (a scheduler or `kill` stopping the step): handled like Ctrl-C, so runs end KILLED."""


def _raise_terminated(signum, frame):
    raise Terminated()


Body = Callable[[dict[str, Any], Table], Mapping[str, float]]


SHOWN_BY_FILE_NAME = frozenset({"data", "output"})


def run_name(step: str, params: Sequence[Param], values: Mapping[str, Any], texts: Mapping[str, str]) -> str:
    """The entry point, then each parameter whose value is not its default, as given: `cluster_islands eps=0.5`.

    `data` and `output` show their file names only."""
    changed = []
    for param in params:
        if values[param.name] != param.parse(param.name, param.default):
            shown = texts[param.name].strip()
            changed.append(
                f"{param.name}={shown.rstrip('/').rsplit('/', 1)[-1] if param.name in SHOWN_BY_FILE_NAME else shown}"
            )
    name = " ".join([step, *changed])
    return name if len(name) <= RUN_NAME_LENGTH else name[: RUN_NAME_LENGTH - 1] + "…"


def is_generated_name(name: str) -> bool:
    """Whether `name` is one MLflow made up (`whimsical-mink-646`), not one a user gave."""
    # Private MLflow word lists: tests/test_run_names.py fails if they move or change shape.
    from mlflow.utils.name_utils import _GENERATOR_NOUNS, _GENERATOR_PREDICATES

    parts = name.split("-")
    return len(parts) == 3 and parts[0] in _GENERATOR_PREDICATES and parts[1] in _GENERATOR_NOUNS and parts[2].isdigit()


def _report(error: BaseException) -> None:
    print(f"error: {error}", file=sys.stderr)


def error_tag(error: BaseException) -> str:
    """`Type: message`, within MLflow's limit on tag values (a Spark error can run to pages).

    Never raises: a Py4JJavaError asks the JVM for its message, and that JVM may be gone."""
    try:
        message = str(error)
    except Exception:
        message = "(its message could not be read)"
    return f"{type(error).__name__}: {message}"[:5000]


def interrupt_behind(error: BaseException) -> KeyboardInterrupt | None:
    """The Ctrl-C or SIGTERM that `error` is, or that it replaced on its way up, else None.

    The signal reaches Spark's JVM too (the same process group), and pyspark's cleanup,
    calling into that dying JVM, can raise an error of its own in place of the interrupt."""
    seen = set()
    while error is not None and id(error) not in seen:
        if isinstance(error, KeyboardInterrupt):
            return error
        seen.add(id(error))
        error = error.__context__
    return None


def _end_run(client, run_id: str, status: str, reason: str) -> None:
    """End a run with `status`, keeping the reason as its `error` tag."""
    client.set_tag(run_id, "error", reason)
    client.set_terminated(run_id, status)


def end_unfinished_runs(
    experiment_id: str, root_id: str, status: str, reason: str, quiet_s: float = 0.0, limit_s: float = 60.0
) -> None:
    """End every run under `root_id` (at any depth) still RUNNING: `status`, with `reason` as its error tag.

    Covers what a stopped or failed step leaves behind: autolog's child runs, the steps under
    main, a sweep's group and eps runs. Runs are found by their parent chain, with one search
    per pass. With `quiet_s`, keep looking until no new one has appeared for that long: the
    Python workers of cancelled Spark tasks are killed a moment later
    (spark.python.task.killTimeout, 2 s) and may still create a run meanwhile.
    """
    client = MlflowClient()
    parent_of: dict[str, str | None] = {root_id: None}

    def is_under_root(run) -> bool:
        parent_of[run.info.run_id] = run.data.tags.get(MLFLOW_PARENT_RUN_ID)
        seen, current = set(), parent_of[run.info.run_id]
        while current is not None and current != root_id and current not in seen:
            seen.add(current)
            if current not in parent_of:
                try:
                    parent_of[current] = client.get_run(current).data.tags.get(MLFLOW_PARENT_RUN_ID)
                except MlflowException:  # a deleted or foreign run: not under ours
                    parent_of[current] = None
            current = parent_of[current]
        return current == root_id

    started = last_found = time.monotonic()
    while True:
        running = client.search_runs([experiment_id], "attributes.status = 'RUNNING'", max_results=5000)
        unfinished = [run for run in running if run.info.run_id != root_id and is_under_root(run)]
        for run in unfinished:
            _end_run(client, run.info.run_id, status, reason)
        now = time.monotonic()
        if unfinished:
            last_found = now
        if now - last_found >= quiet_s or now - started >= limit_s:
            return
        time.sleep(0.5)


def stopped_reason(step: str, signal_name: str) -> str:
    """The `error` tag of a run a stop ended: `<step> was stopped (Ctrl-C)`."""
    return f"{step} was stopped ({signal_name})"


def was_stopped(run) -> bool:
    """Whether a stop ended `run`, whatever status MLflow later gave it (see steps/pipeline/step_runs.py)."""
    return " was stopped (" in run.data.tags.get("error", "")


def _end_step_run(run, status: str, reason: str, error: str | None = None) -> None:
    """End the step's run with `status` (and `error` as its error tag), after every run under it
    still RUNNING (tagged `reason`).

    The step's run is ended even when the rest fails: left active, MLflow's exit hook
    would end it FINISHED."""
    try:
        end_unfinished_runs(run.info.experiment_id, run.info.run_id, status, reason)
        if error is not None:
            mlflow.set_tag("error", error)
    finally:
        mlflow.end_run(status)


def run_step(
    step: str,
    params: Sequence[Param],
    body: Body,
    argv: Sequence[str] | None = None,
    load: Callable[[str], Table] = load_penguins,
    data_context: str = "training",
) -> None:
    """Run one entry point from the command line; see the module docstring. `load` reads `data`, which is
    logged as the run's dataset input used for `data_context`."""
    imports_done()
    signal.signal(signal.SIGTERM, _raise_terminated)
    for name, value in HTTP_RETRY_DEFAULTS.items():
        os.environ.setdefault(name, value)
    telemetry_off_unless_asked()
    try:
        check_tracking_server(mlflow.get_tracking_uri())
    except UserError as error:
        _report(error)  # nothing can be logged: there is no server to log to
        sys.exit(EXIT_BAD_INPUT)
    # Resolved once, before any Spark session: MLflow otherwise asks the active session for the
    # registry on every new client, which fails once Spark's JVM is gone (SIGTERM to the group),
    # exactly when the run must still be ended.
    os.environ.setdefault("MLFLOW_REGISTRY_URI", mlflow.get_registry_uri())
    # A run `mlflow run` created before starting us: it must not be left RUNNING if we fail early.
    given_run_id = os.environ.get("MLFLOW_RUN_ID")
    try:
        values, texts = parse_params((DATA, *params), argv, prog=f"python -m steps.{step}")
        table = load(values["data"])
    except UserError as error:
        _report(error)
        if given_run_id:
            _end_run(MlflowClient(), given_run_id, "FAILED", error_tag(error))
        sys.exit(EXIT_BAD_INPUT)

    name = run_name(step, (DATA, *params), values, texts)
    run = mlflow.start_run(run_name=None if given_run_id else name)
    run_id = run.info.run_id
    try:
        logged = run.data.params
        rename = given_run_id is not None and is_generated_name(run.info.run_name or "")
        MlflowClient().log_batch(
            run_id,
            params=[LoggedParam(key, value) for key, value in texts.items() if key not in logged],
            tags=[RunTag(MLFLOW_RUN_NAME, name)] if rename else [],
        )
        mlflow.log_input(dataset_input(table), context=data_context)
        headline = body(values, table)
    except BaseException as error:
        # The step is ending: a Ctrl-C or SIGTERM now (a second one, or one that reached Spark's
        # JVM before this process) must not cut that short and leave runs RUNNING.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        if (interrupt := interrupt_behind(error)) is not None:
            terminated = isinstance(interrupt, Terminated)
            stopped = stopped_reason(step, "SIGTERM" if terminated else "Ctrl-C")
            _end_step_run(run, "KILLED", stopped, error=stopped)
            _report(KeyboardInterrupt("terminated (SIGTERM)" if terminated else "interrupted"))
            sys.exit(EXIT_TERMINATED if terminated else EXIT_INTERRUPTED)
        reason = error_tag(error)
        _end_step_run(run, "FAILED", f"{step} failed: {reason}", error=reason)
        if isinstance(error, UserError):
            _report(error)
            sys.exit(EXIT_BAD_INPUT)
        raise
    mlflow.end_run()
    summary = ", ".join(f"{name}={value:.4g}" for name, value in headline.items())
    print(f"{step}: run {run_id} FINISHED: {summary}")
