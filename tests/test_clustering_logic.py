"""steps.ml.clustering on its own: metrics, undefined cases, the choice of the best eps."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from steps.ml import clustering
from steps.ml.data import load_penguins


@pytest.fixture(scope="module")
def biscoe():
    frame = load_penguins().frame
    return frame[frame["island"] == "Biscoe"]


def test_sweep_fits_one_model_per_eps_on_scaled_data(biscoe):
    results = clustering.sweep(biscoe, clustering.FEATURES, [0.3, 0.9], 3)
    assert [r.eps for r in results] == [0.3, 0.9]
    for result in results:
        scaler = result.model.named_steps["standardscaler"]
        assert np.allclose(scaler.mean_, biscoe.loc[:, list(clustering.FEATURES)].mean())
        assert result.model.named_steps["dbscan"].eps == result.eps
        assert set(result.metrics) == set(clustering.METRICS)


def test_counts_and_noise_ratio():
    labels = np.array([0, 0, 0, 1, 1, 1, -1, -1])
    X = np.array([[0, 0], [0, 0.1], [0.1, 0], [5, 5], [5, 5.1], [5.1, 5], [9, 0], [0, 9]], dtype=float)
    metrics = clustering.cluster_metrics(X, labels)
    assert metrics["n_clusters"] == 2 and metrics["n_clustered_records"] == 6
    assert metrics["noise_ratio"] == pytest.approx(0.25)
    assert metrics["silhouette"] > 0.9 and metrics["davies_bouldin"] < 0.1


def test_one_cluster_leaves_quality_metrics_undefined():
    X = np.random.default_rng(0).normal(size=(20, 2))
    metrics = clustering.cluster_metrics(X, np.zeros(20, dtype=int))
    assert metrics["n_clusters"] == 1
    assert all(metrics[name] is None for name in clustering.QUALITY)


def test_a_group_smaller_than_min_samples_is_not_an_error(biscoe):
    (result,) = clustering.sweep(biscoe.head(1), clustering.FEATURES, [0.5], 3)
    assert result.metrics["n_clusters"] == 0 and result.metrics["noise_ratio"] == 1.0
    assert result.metrics["s_dbw"] is None


@pytest.mark.parametrize(("select_by", "expected"), [("s_dbw", 0.5), ("silhouette", 0.7)])
def test_best_respects_each_metrics_direction(select_by, expected):
    rows = pd.DataFrame({"eps": [0.3, 0.5, 0.7], "s_dbw": [np.nan, 0.2, 0.4], "silhouette": [0.1, 0.3, 0.6]})
    assert clustering.best(rows, select_by)["eps"] == expected


def test_best_is_none_when_nothing_is_defined():
    rows = pd.DataFrame({"eps": [0.1, 0.2], "s_dbw": [np.nan, np.nan]})
    assert clustering.best(rows, "s_dbw") is None


def test_ties_go_to_the_smaller_eps():
    rows = pd.DataFrame({"eps": [0.9, 0.5], "s_dbw": [0.2, 0.2]})
    assert clustering.best(rows, "s_dbw")["eps"] == 0.5


def test_sweep_is_deterministic(biscoe):
    first = [r.metrics for r in clustering.sweep(biscoe, clustering.FEATURES, clustering.DEFAULT_EPS, 3)]
    again = [r.metrics for r in clustering.sweep(biscoe, clustering.FEATURES, clustering.DEFAULT_EPS, 3)]
    assert first == again
