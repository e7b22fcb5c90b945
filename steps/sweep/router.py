"""The sweep's one served model, the router (steps/sweep/router_model.py), logged on the job run."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import mlflow
import pandas as pd
from mlflow.models import ModelSignature
from mlflow.types import ColSpec, Schema

from steps.sweep.config import SweepConfig
from steps.sweep.task import DBSCAN_MODULE
from steps.tracking.models import SKLEARN_REQUIREMENTS, carried_code, pinned

ROUTER_NAME = "penguin_clusters"
ROUTER_CODE = Path(__file__).with_name("router_model.py")  # the model, logged as code
EXAMPLE_GROUPS = 3


def router_signature(config: SweepConfig) -> ModelSignature:
    inputs = Schema([ColSpec("string", config.group_by), *(ColSpec("double", f) for f in config.features)])
    outputs = [ColSpec("string", "group"), ColSpec("double", "eps"), ColSpec("long", "cluster")]
    return ModelSignature(inputs, Schema([*outputs, ColSpec("string", "reason")]))


def log_router(chosen: pd.DataFrame, rows: pd.DataFrame, config: SweepConfig) -> str:
    """Log the router as the active run's model; return its URI.

    `chosen`: one row per group with its chosen eps and model URI (eps empty where none is
    defined); `rows`: the sweep's input, for the input example."""
    groups, artifacts = {}, {}
    for position, row in enumerate(chosen.itertuples(index=False)):
        defined = not pd.isna(row.eps)
        key = f"group-{position}" if defined else ""
        if defined:
            artifacts[key] = row.model_uri
        reason = "" if defined else f"no eps gave a defined {config.select_by}"
        groups[str(row.group)] = {"eps": float(row.eps) if defined else None, "model": key, "reason": reason}
    example = rows.groupby(config.group_by, sort=True).head(1).head(EXAMPLE_GROUPS).reset_index(drop=True)
    routes = {"group_by": config.group_by, "features": list(config.features), "groups": groups}
    with tempfile.TemporaryDirectory() as tmp:
        listing = Path(tmp, "routes.json")
        listing.write_text(json.dumps(routes, indent=1))
        info = mlflow.pyfunc.log_model(
            name=ROUTER_NAME,
            python_model=ROUTER_CODE,
            artifacts={"routes": str(listing), **artifacts},
            code_paths=carried_code(Path(tmp, "code"), DBSCAN_MODULE),
            signature=router_signature(config),
            input_example=example.loc[:, [config.group_by, *config.features]],
            pip_requirements=pinned(*SKLEARN_REQUIREMENTS),
        )
    return info.model_uri
