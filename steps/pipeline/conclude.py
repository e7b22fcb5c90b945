"""What `main` does once its steps are done, written once for `main` and the Databricks job's last task:
judge and register the steps' models, log the report, say where to look."""

from __future__ import annotations

import mlflow

from steps.cli.params import Param, choice
from steps.ml.data import Table
from steps.pipeline.report import log_report, where_to_look
from steps.pipeline.step_runs import StepResults

REGISTER = Param(
    "register",
    "false",
    choice(("false", "true", "force")),
    "true: register each step's best model as challenger, champion only if no worse; "
    "force: champion regardless; false: register nothing",
)


def conclude(client, run, results: list[StepResults], register: str, table: Table) -> dict:
    """Register (per `register`, judged on `table`, the data as the sweep read it), log the report, print where
    to look.

    Returns the registrations (steps/pipeline/registry.py), by entry point."""
    registered = {}
    if register != "false":
        from steps.pipeline.registry import register_models  # its judges load scikit-learn: only when registering

        registered = register_models(client, results, register, table)
    log_report(results, registered)
    for line in where_to_look(run, mlflow.get_tracking_uri()):
        print(line)
    return registered
