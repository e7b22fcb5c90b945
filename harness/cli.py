"""The `mlflow run` command line, as a user types it, and fresh experiment names to run it in."""

from __future__ import annotations

import sys
import uuid
from collections.abc import Mapping
from pathlib import Path


def mlflow_run_command(
    project: str | Path,
    entry_point: str,
    experiment: str,
    params: Mapping[str, object],
    version: str | None = None,
    run_name: str | None = None,
) -> list[str]:
    """`mlflow run <project> [-v <version>] [--run-name <run_name>] -e <entry_point> --env-manager local
    --experiment-name <experiment> -P k=v ...`, with this interpreter's MLflow."""
    cmd = [sys.executable, "-m", "mlflow", "run", str(project)]
    if version:
        cmd += ["-v", version]
    if run_name:
        cmd += ["--run-name", run_name]
    cmd += ["-e", entry_point, "--env-manager", "local", "--experiment-name", experiment]
    for name, value in params.items():
        cmd += ["-P", f"{name}={value}"]
    return cmd


def fresh_experiment_name(label: str) -> str:
    """`<label>-<8 hex digits>`: a name no earlier run used, so runs never mix (the label cut to 60 characters)."""
    return f"{label[:60]}-{uuid.uuid4().hex[:8]}"
