"""Entry point `classify_sex`: logistic regression predicting a penguin's sex.

The tutorial's metrics (train_acc, eval_acc, auc_score, reloaded_eval_acc), then `mlflow.models.evaluate` of the
logged model on the held-out rows (male the positive class): MLflow's classifier metrics and plots.

mlflow run . -e classify_sex --env-manager local -P C=0.5
python -m steps.classify_sex --C 0.5          # the same, without MLflow Projects
"""

from __future__ import annotations

# isort: off
# scikit-learn and skops before MLflow: skops's import is cheaper before MLflow's modules
# (docs/performance.md; tests/test_startup.py keeps the order).
import skops.io  # noqa: F401
from steps.ml import sex

import mlflow
# isort: on

from steps.cli.params import Param, integer, number
from steps.cli.shared_params import SEED
from steps.ml.data import categories_of
from steps.tracking.models import evaluate_model, log_heldout_rows, log_sklearn_model
from steps.tracking.runner import run_step

PARAMS = (
    Param("test_size", "0.2", number(0, 1), "fraction of penguins held out for evaluation"),
    SEED,
    Param("C", "1.0", number(0), "inverse regularisation strength of the logistic regression"),
    Param("max_iter", "100", integer(1), "maximum solver iterations"),
)
MODEL_NAME = "sex_classifier"
# The test set's counts. Not confusion_matrix.png: evaluate logs that, normalised by true sex.
CONFUSION_COUNTS = "confusion_counts.png"


def classify_sex(values, penguins):
    from steps.ml import plots  # matplotlib: not needed to fail fast on bad input

    data = sex.split(penguins.frame, values["test_size"], values["seed"])
    model = sex.fit_classifier(data.X_train, data.y_train, values["C"], values["max_iter"], values["seed"])
    metrics = sex.evaluate(model, data)
    mlflow.log_metrics(metrics)
    counts = plots.confusion_figure(sex.confusion(model, data))
    mlflow.log_figure(counts, CONFUSION_COUNTS)
    plots.close(counts)  # evaluate draws on pyplot's current figure

    model_uri = log_sklearn_model(model, MODEL_NAME, data.X_test.head(5), categories_of(sex.CATEGORICAL))
    # As the tutorial does: load the model back from its URI and score the test set again.
    reloaded = mlflow.sklearn.load_model(model_uri)
    reloaded_eval_acc = float((reloaded.predict(data.X_test) == data.y_test).mean())
    mlflow.log_metric("reloaded_eval_acc", reloaded_eval_acc)

    heldout = sex.heldout_rows(data)
    log_heldout_rows(heldout)
    evaluate_model(model_uri, heldout, sex.TARGET, "classifier", penguins.source, pos_label=sex.POSITIVE)
    return {**metrics, "reloaded_eval_acc": reloaded_eval_acc}


def main(argv=None):
    run_step("classify_sex", PARAMS, classify_sex, argv)


if __name__ == "__main__":
    main()
