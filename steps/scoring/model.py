"""The model `score` scores with: any URI MLflow resolves, pinned to one version, and what it takes and answers."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from steps.cli.params import ParamError
from steps.ml.scoring import PREDICTION, REASON, ModelInputs

# MLflow's column and tensor types -> the kinds of steps.ml.scoring (and of Spark's schema).
KINDS = {
    "string": "string",
    "object": "string",
    "str": "string",
    "double": "double",
    "float": "double",
    "float64": "double",
    "float32": "double",
    "long": "long",
    "integer": "long",
    "int64": "long",
    "int32": "long",
    "boolean": "boolean",
    "bool": "boolean",
}
NUMERIC = ("double", "long")


@dataclass(frozen=True)
class ScoredModel:
    given: str  # the URI as the user gave it
    pinned: str  # what every task loads: the registered version an alias pointed at when the run began
    local: Path  # the driver's copy
    model_id: str | None  # the logged model's id
    registered: tuple[str, str] | None  # (name, version) for a registered model
    flavor: str  # "spark" (scored with Spark ML itself) or "python_function"
    inputs: ModelInputs
    group_by: str | None  # the router's group column

    def tags(self) -> dict[str, str]:
        tags = {"score.model": self.given, "score.model_pinned": self.pinned}
        if self.model_id:
            tags["score.model_id"] = self.model_id
        if self.registered:
            tags["score.registered_model"], tags["score.registered_version"] = self.registered
        return tags


def kind_of(spec) -> str:
    """The kind of an MLflow ColSpec or TensorSpec."""
    name = spec.type.name if hasattr(spec, "type") and hasattr(spec.type, "name") else str(spec.type)
    if name not in KINDS:
        raise ParamError(f"model: a column of type {name} cannot be scored from a table")
    return KINDS[name]


def resolve(uri: str, folder: Path) -> ScoredModel:
    """Download the model `uri` names into `folder`, pinned; ParamError (one line) when it cannot be."""
    import mlflow
    from mlflow.exceptions import MlflowException
    from mlflow.models import Model
    from mlflow.store.artifact.utils.models import get_model_name_and_version

    pinned, registered = uri, None
    try:
        if uri.startswith("models:/"):
            found = get_model_name_and_version(mlflow.MlflowClient(), uri)
            if len(found) == 2:  # a registered model's version, or the one its alias or stage names now
                registered = (found[0], str(found[1]))
                pinned = f"models:/{found[0]}/{found[1]}"
        local = Path(mlflow.artifacts.download_artifacts(pinned, dst_path=str(folder)))
        model = Model.load(local)
    except (MlflowException, OSError) as error:
        reason = (str(getattr(error, "message", error)).strip().splitlines() or ["not found"])[0]
        raise ParamError(f"model: cannot load '{uri}': {reason}") from None
    return ScoredModel(
        given=uri,
        pinned=pinned,
        local=local,
        model_id=model.model_id,
        registered=registered,
        flavor="spark" if "spark" in model.flavors else "python_function",
        inputs=model_inputs(model),
        group_by=(model.metadata or {}).get("group_by"),
    )


def model_inputs(model) -> ModelInputs:
    """What the model takes and answers, from its signature (and the categories in its metadata)."""
    signature = model.signature
    if signature is None or signature.inputs is None or not signature.inputs.has_input_names():
        raise ParamError("model: has no signature with named inputs; score reads a table's columns by those names")
    columns = {spec.name: kind_of(spec) for spec in signature.inputs.inputs}
    outputs = signature.outputs.inputs if signature.outputs is not None else []
    named = {spec.name: kind_of(spec) for spec in outputs if getattr(spec, "name", None)}
    if len(outputs) > 1 and len(named) == len(outputs):
        answer = {**named, REASON: "string"}
    else:
        answer = {PREDICTION: kind_of(outputs[0]) if outputs else "string", REASON: "string"}
    params = signature.params
    accepts_bad_rows = params is not None and "bad_rows" in {p.name for p in params.params}
    return ModelInputs(
        numeric=tuple(name for name, kind in columns.items() if kind in NUMERIC),
        text=tuple(name for name, kind in columns.items() if kind not in NUMERIC),
        answer=answer,
        categories=(model.metadata or {}).get("categories", {}),
        params={"bad_rows": "answer"} if accepts_bad_rows else {},
    )
