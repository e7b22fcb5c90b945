"""The sweep's one served model, the router (steps/sweep/router_model.py), logged on the job run."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Sequence
from pathlib import Path

import mlflow
import pandas as pd
from mlflow.models import ModelSignature
from mlflow.types import ColSpec, ParamSchema, ParamSpec, Schema

from steps.ml.grouped_cores import GroupCores, GroupedCores
from steps.ml.row_checks import row_problems
from steps.sweep.config import SweepConfig
from steps.tracking.models import carried_code, pinned

ROUTER_NAME = "penguin_clusters"
ROUTER_CODE = Path(__file__).with_name("router_model.py")  # the model, logged as code
EXAMPLE_GROUPS = 3


def router_signature(group_by: str, features: Sequence[str]) -> ModelSignature:
    """Every input is needed; each is declared optional so that the router itself names a missing one
    in one line (MLflow's own check would repeat the whole request in its message)."""
    columns = [("string", group_by), *(("double", f) for f in features)]
    inputs = Schema([ColSpec(kind, name, required=False) for kind, name in columns])
    outputs = [ColSpec("string", "group"), ColSpec("double", "eps"), ColSpec("long", "cluster")]
    bad_rows = ParamSpec("bad_rows", "string", "refuse")  # or "answer": an empty cluster and the reason
    return ModelSignature(inputs, Schema([*outputs, ColSpec("string", "reason")]), ParamSchema([bad_rows]))


def log_router(chosen: pd.DataFrame, rows: pd.DataFrame, config: SweepConfig) -> str:
    """Log the router as the active run's model; return its URI.

    `chosen`: one row per group with its chosen eps and `cores` (eps empty where none is defined);
    `rows`: the sweep's input, for the input example. Every group's core samples go into one set
    of arrays (GroupedCores): what the router serves is pinned now, and loading it reads nothing
    from the tracking server."""
    groups, reasons, served = [], [], []
    for row in chosen.itertuples(index=False):
        defined = not pd.isna(row.eps)
        groups.append(str(row.group))
        reasons.append("" if defined else f"no eps gave a defined {config.select_by}")
        served.append((float(row.eps), GroupCores.from_bytes(row.cores)) if defined else None)
    routes = {"group_by": config.group_by, "features": list(config.features), "groups": groups, "reasons": reasons}
    example = rows.groupby(config.group_by, sort=True).head(1).head(EXAMPLE_GROUPS).reset_index(drop=True)
    with tempfile.TemporaryDirectory() as tmp:
        listing, cores = Path(tmp, "routes.json"), Path(tmp, "cores")
        listing.write_text(json.dumps(routes, indent=1))
        GroupedCores.of(served, len(config.features)).save(cores)
        info = mlflow.pyfunc.log_model(
            name=ROUTER_NAME,
            python_model=ROUTER_CODE,
            artifacts={"routes": str(listing), "cores": str(cores)},
            code_paths=carried_code(Path(tmp, "code"), GroupedCores.__module__, row_problems.__module__),
            signature=router_signature(config.group_by, config.features),
            input_example=example.loc[:, [config.group_by, *config.features]],
            pip_requirements=pinned("numpy", "pandas"),
            metadata={"group_by": config.group_by},  # for `score`: the column to keep a task's groups few by
        )
    return info.model_uri
