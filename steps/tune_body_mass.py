"""Entry point `tune_body_mass`: ridge regression of body mass, alpha chosen by 5-fold CV.

A seeded share of the penguins (`test_size`, 20 %, stratified on the species) is held out; the grid search
runs on the rest. `mlflow.sklearn.autolog` records the search: one child run per alpha under this run. The
logged model is the best ridge refit on the training rows; `mlflow.models.evaluate` scores it on the held-out
rows (MLflow's regressor metrics).

    mlflow run . -e tune_body_mass --env-manager local -P alphas=0.1,1,10
    python -m steps.tune_body_mass --alphas 0.1,1,10
"""

from __future__ import annotations

# isort: off
# scikit-learn and skops before MLflow, as in steps/classify_sex.py.
import skops.io  # noqa: F401
from steps.ml import body_mass

import mlflow
from mlflow.tracking import MlflowClient
from mlflow.utils.mlflow_tags import MLFLOW_PARENT_RUN_ID, MLFLOW_RUN_NAME
# isort: on

from steps.cli.params import Param, number
from steps.cli.shared_params import ALPHAS, SEED
from steps.ml.data import categories_of
from steps.tracking.datasets import dataset_input, log_dataset_to
from steps.tracking.models import evaluate_model, log_heldout_rows, log_sklearn_model
from steps.tracking.runner import run_step

PARAMS = (
    Param("test_size", "0.2", number(0, 1), "fraction of penguins held out for evaluation; the CV runs on the rest"),
    SEED,
    ALPHAS,
)
MODEL_NAME = "body_mass_regressor"


def tune_body_mass(values, penguins):
    from steps.ml import plots  # matplotlib: not needed to fail fast on bad input

    train, heldout = body_mass.split(penguins.frame, values["test_size"], values["seed"])
    alphas = values["alphas"]
    # Every alpha gets its child run (autolog keeps 5 by default). Models are logged below,
    # once, with explicit requirements: autolog would infer them, seconds per model.
    mlflow.sklearn.autolog(max_tuning_runs=None, log_models=False, log_datasets=False, silent=True)
    try:
        fitted = body_mass.search_alpha(train, alphas)
    finally:
        mlflow.sklearn.autolog(disable=True)
    search = fitted.named_steps["search"]
    table = body_mass.rmse_by_alpha(search)
    best_alpha = float(search.best_params_["alpha"])
    best_rmse = float(table.loc[search.best_index_, "cv_rmse"])
    mlflow.log_params({"best_alpha": best_alpha})
    mlflow.log_metrics({"best_cv_rmse": best_rmse})
    mlflow.log_table(table, "rmse_by_alpha.json")
    mlflow.log_figure(plots.rmse_by_alpha_figure(table, best_alpha), "rmse_by_alpha.png")

    children = mlflow.search_runs(
        filter_string=f"tags.`{MLFLOW_PARENT_RUN_ID}` = '{mlflow.active_run().info.run_id}'", output_format="list"
    )
    log_dataset_to([child.info.run_id for child in children], dataset_input(penguins))
    for child in children:  # autolog names them at random; name them by what they tried
        MlflowClient().set_tag(child.info.run_id, MLFLOW_RUN_NAME, f"alpha={float(child.data.params['alpha']):g}")

    example = penguins.frame.loc[:, list(body_mass.FEATURES)].head(5)
    model_uri = log_sklearn_model(
        body_mass.best_model(fitted), MODEL_NAME, example, categories_of(body_mass.CATEGORICAL)
    )
    log_heldout_rows(heldout)
    evaluate_model(model_uri, heldout, body_mass.TARGET, "regressor", penguins.source)
    return {"best_alpha": best_alpha, "best_cv_rmse": best_rmse, "child_runs": len(children)}


def main(argv=None):
    run_step("tune_body_mass", PARAMS, tune_body_mass, argv)


if __name__ == "__main__":
    main()
