"""Predict body mass with ridge regression, choosing alpha by 5-fold CV on the training rows. No MLflow here."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from sklearn.linear_model import Ridge
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline

from steps.ml.data import MEASUREMENTS, DataError, split_rows
from steps.ml.features import category_encoder

TARGET = "body_mass_g"
PREDICTOR_MEASUREMENTS = tuple(m for m in MEASUREMENTS if m != TARGET)
CATEGORICAL = ("sex", "species", "island")
FEATURES = (*PREDICTOR_MEASUREMENTS, *CATEGORICAL)
CV_FOLDS = 5
STRATIFY_BY = "species"  # of the category columns, the one that explains most of the body mass (R² 0.67 alone)


def split(frame: pd.DataFrame, test_size: float, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(training, held-out) rows, the features and the body mass as the data set has them, stratified on the
    species, reproducible from the seed (DataError if too few rows: for the split, or for 5 folds of training rows)."""
    train, test = split_rows(frame, STRATIFY_BY, test_size, seed)
    if len(train) < CV_FOLDS:
        raise DataError(
            f"data: {len(frame)} complete rows leave {len(train)} training rows, fewer than the {CV_FOLDS} CV folds;"
            " more penguins are needed"
        )
    columns = [*FEATURES, TARGET]
    return train.loc[:, columns], test.loc[:, columns]


def search_alpha(frame: pd.DataFrame, alphas: Sequence[float]) -> Pipeline:
    """Grid-search Ridge's alpha over these rows (the training rows; MSE scoring, 5 unshuffled folds: deterministic).

    Returns the encoder followed by the fitted GridSearchCV, whose `best_estimator_`
    is refit on all these rows. The search sees the encoded columns, as in the tutorial.
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
