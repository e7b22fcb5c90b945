"""The model registry: each step's best model as a new version with the alias `champion`."""

from __future__ import annotations

import mlflow
from mlflow.exceptions import MlflowException

from steps.pipeline.step_runs import StepResults

ALIAS = "champion"
SOURCE_MODEL = "penguins.model_uri"  # model version tag: the URI it was registered from


def models_of(results: StepResults) -> dict[str, str]:
    """Registered-model name -> model URI: the step's model; for the sweep, the router that serves every
    group (`penguins-clusters-<group_by>`) and each group's chosen model (`penguins-dbscan-<group_by>-<group>`)."""
    uri = results.run.data.tags.get("model_uri")
    if results.outcome.entry_point != "cluster_islands":
        return {f"penguins-{results.outcome.entry_point.replace('_', '-')}": uri} if uri else {}
    group_by = results.run.data.params.get("group_by")
    models = {f"penguins-clusters-{group_by}": uri} if uri else {}
    for group in results.groups:
        if "best_model_uri" in group.data.tags:
            models[f"penguins-dbscan-{group_by}-{group.data.tags['penguins.group']}"] = group.data.tags[
                "best_model_uri"
            ]
    return models


def register_models(client, results: list[StepResults]) -> dict[str, dict[str, str]]:
    """Register each step's best model and point ALIAS at it; an unchanged model is not registered again."""
    registered = {}
    for step in results:
        versions = {}
        for name, model_uri in models_of(step).items():
            versions[name] = register_champion(client, name, model_uri)
            mlflow.set_tag(f"registered.{name}", versions[name])
        registered[step.outcome.entry_point] = versions
    return registered


def register_champion(client, name: str, model_uri: str) -> str:
    """A new version of `name` from `model_uri`, aliased ALIAS, unless ALIAS already serves that model."""
    try:
        current = client.get_model_version_by_alias(name, ALIAS)
        if current.tags.get(SOURCE_MODEL) == model_uri:  # `source` is rewritten: compare what we registered
            return current.version
    except MlflowException:
        pass  # no such model or alias yet
    version = mlflow.register_model(model_uri, name, tags={SOURCE_MODEL: model_uri}).version
    client.set_registered_model_alias(name, ALIAS, version)
    return str(version)
