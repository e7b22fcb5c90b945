"""Predict body mass with ridge regression, choosing alpha by 5-fold CV. No MLflow here."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from sklearn.linear_model import Ridge
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline

from steps.ml.data import MEASUREMENTS
from steps.ml.features import category_encoder

TARGET = "body_mass_g"
PREDICTOR_MEASUREMENTS = tuple(m for m in MEASUREMENTS if m != TARGET)
CATEGORICAL = ("sex", "species", "island")
FEATURES = (*PREDICTOR_MEASUREMENTS, *CATEGORICAL)
CV_FOLDS = 5


def search_alpha(frame: pd.DataFrame, alphas: Sequence[float]) -> Pipeline:
    """Grid-search Ridge's alpha (MSE scoring, 5 unshuffled folds: deterministic).

    Returns the encoder followed by the fitted GridSearchCV, whose `best_estimator_`
    is refit on all rows. The search sees the encoded columns, as in the tutorial.
    """
    encoder = category_encoder(CATEGORICAL, PREDICTOR_MEASUREMENTS).set_output(transform="pandas")
    X = encoder.fit_transform(frame.loc[:, list(FEATURES)])
    search = GridSearchCV(Ridge(), {"alpha": list(alphas)}, scoring="neg_mean_squared_error", cv=CV_FOLDS)
    search.fit(X, frame[TARGET])
    return Pipeline([("encode", encoder), ("search", search)])


def rmse_by_alpha(search: GridSearchCV) -> pd.DataFrame:
    """Per alpha: the CV RMSE (root of the mean fold MSE, as GridSearchCV ranks) and its spread over folds."""
    results = search.cv_results_
    fold_rmse = np.sqrt(-np.column_stack([results[f"split{i}_test_score"] for i in range(search.n_splits_)]))
    return pd.DataFrame(
        {
            "alpha": np.asarray(results["param_alpha"], dtype=float),
            "cv_rmse": np.sqrt(-results["mean_test_score"]),
            "cv_rmse_std": fold_rmse.std(axis=1),  # spread of the per-fold RMSEs, for error bars
        }
    )


def best_model(fitted: Pipeline) -> Pipeline:
    """Raw penguin columns in, grams out: the encoder and the best, refit Ridge."""
    return Pipeline([("encode", fitted.named_steps["encode"]), ("ridge", fitted.named_steps["search"].best_estimator_)])
