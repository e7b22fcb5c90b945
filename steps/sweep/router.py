"""The sweep's one served model, the router (steps/sweep/router_model.py), logged on the job run."""

from __future__ import annotations

import json
import tempfile
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import mlflow
import pandas as pd
from mlflow.models import ModelSignature
from mlflow.store.artifact.artifact_repository_registry import get_artifact_repository
from mlflow.types import ColSpec, Schema

from steps.sweep.config import SweepConfig
from steps.sweep.task import DBSCAN_MODULE, SKOPS_FILE, TRUSTED_TYPE
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
    defined); `rows`: the sweep's input, for the input example. The chosen models' skops files
    go, as they are, into one zip: a few uploads whatever the number of groups, and the driver
    never holds the fitted pipelines."""
    groups, uris = {}, {}
    for number, row in enumerate(chosen.itertuples(index=False)):
        defined = not pd.isna(row.eps)
        member = f"{number}.skops" if defined else None  # the group's file in the zip: group names may be odd paths
        if defined:
            uris[member] = row.model_uri
        reason = "" if defined else f"no eps gave a defined {config.select_by}"
        groups[str(row.group)] = {"eps": float(row.eps) if defined else None, "reason": reason, "model": member}
    example = rows.groupby(config.group_by, sort=True).head(1).head(EXAMPLE_GROUPS).reset_index(drop=True)
    routes = {"group_by": config.group_by, "features": list(config.features), "groups": groups}
    routes["trusted_types"] = [TRUSTED_TYPE]
    with tempfile.TemporaryDirectory() as tmp:
        listing, models = Path(tmp, "routes.json"), Path(tmp, "models.zip")
        listing.write_text(json.dumps(routes, indent=1))
        copy_skops_files(uris, models, Path(tmp, "downloads"))
        info = mlflow.pyfunc.log_model(
            name=ROUTER_NAME,
            python_model=ROUTER_CODE,
            artifacts={"routes": str(listing), "models": str(models)},
            code_paths=carried_code(Path(tmp, "code"), DBSCAN_MODULE),
            signature=router_signature(config),
            input_example=example.loc[:, [config.group_by, *config.features]],
            pip_requirements=pinned(*SKLEARN_REQUIREMENTS),
        )
    return info.model_uri


def copy_skops_files(model_uris: dict[str, str], archive: Path, downloads: Path) -> None:
    """Into the zip `archive`, as member `name`, the skops file of each logged model (`models:/<id>`)
    of `model_uris` (name -> URI): only that file of each model is fetched, a few at once."""
    from mlflow.tracking import MlflowClient

    client = MlflowClient()

    def fetch(item: tuple[str, str]) -> tuple[str, str]:
        name, uri = item
        location = client.get_logged_model(uri.removeprefix("models:/")).artifact_location
        folder = downloads / Path(name).stem
        folder.mkdir(parents=True)
        return name, get_artifact_repository(location).download_artifacts(SKOPS_FILE, str(folder))

    # Stored, not compressed: a skops file is a zip already.
    with ThreadPoolExecutor(8) as pool, zipfile.ZipFile(archive, "w", zipfile.ZIP_STORED) as zipped:
        for name, local in pool.map(fetch, sorted(model_uris.items())):
            zipped.write(local, name)
            Path(local).unlink()
