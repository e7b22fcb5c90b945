"""DBSCAN that labels new rows. numpy and scikit-learn only: logged models carry this file and grouped_cores.py.

scikit-learn's DBSCAN has no `predict`, so neither has a pipeline ending in it, and MLflow
cannot serve it. NearestCoreDBSCAN fits exactly as DBSCAN does (the same labels) and
predicts as DBSCAN's own neighbourhood rule reads: a row takes the cluster of its nearest
core sample within `eps` (distance <= eps), else -1 (noise).

On the training rows that gives every core sample and every noise point its fit label. A
border point (within eps of a core sample, not itself a core) may get another cluster that
also has a core sample within eps: DBSCAN gives a border point to whichever cluster reaches
it first in its visiting order, `predict` to the nearest core.

The rule itself is grouped_cores.nearest_core_labels, which the router (numpy only, no
scikit-learn) uses too: both give the same labels.
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, ClusterMixin
from sklearn.cluster import DBSCAN
from sklearn.utils.validation import check_is_fitted, validate_data

from steps.ml.grouped_cores import nearest_core_labels


class NearestCoreDBSCAN(ClusterMixin, BaseEstimator):
    """DBSCAN(eps, min_samples) with Euclidean distance, plus `predict` by the nearest core sample within eps."""

    def __init__(self, eps: float = 0.5, min_samples: int = 5):
        self.eps = eps
        self.min_samples = min_samples

    def fit(self, X, y=None):
        X = validate_data(self, X, dtype="float64")
        fitted = DBSCAN(eps=self.eps, min_samples=self.min_samples).fit(X)
        self.labels_ = fitted.labels_
        self.core_sample_indices_ = fitted.core_sample_indices_
        self.components_ = fitted.components_  # the core samples
        self.core_labels_ = fitted.labels_[fitted.core_sample_indices_]
        return self

    def predict(self, X) -> np.ndarray:
        """The cluster of each row's nearest core sample within eps; -1 where none is (or there are no cores)."""
        check_is_fitted(self, "components_")
        X = validate_data(self, X, dtype="float64", reset=False)
        return nearest_core_labels(X, self.components_.T, self.core_labels_, self.eps)
