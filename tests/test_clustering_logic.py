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


def test_rows_to_sweep_takes_any_table_and_leaves_out_incomplete_rows():
    table = pd.DataFrame(
        {
            "site": [7.0, 7.0, 8.0, 8.0, None, 9.0],  # whole numbers with a gap, as CSV reads them
            "x": ["1.5", 2, 3, 4, 5, None],
            "y": [1, 2, 3, 4, 5, 6],
            "note": ["a", "b", "c", "d", "e", "f"],
        }
    )
    rows = clustering.rows_to_sweep(table, "site", ["x", "y"])
    assert list(rows.columns) == ["site", "x", "y"]
    assert rows["site"].tolist() == ["7", "7", "8", "8"] and rows["x"].dtype == "float64"


@pytest.mark.parametrize(
    ("group_by", "features", "message"),
    [
        ("beak", ["y"], "group_by: no column 'beak' in the data (columns: site, x, y, note)"),
        ("site", ["y", "z"], "features: no column(s) z in the data (columns: site, x, y, note)"),
        ("site", ["site", "y"], "features: must not include the group_by column 'site'"),
        ("x", ["y"], "group_by: column 'x' must hold text or whole numbers, not decimals"),
        ("site", ["note"], "features: column 'note' must be numeric; it holds 'a'"),
        ("site", ["empty"], "features: column 'empty' has no values"),
        ("one", ["y"], "group_by: must be a column with two or more groups in the data; 'one' has only 'a'"),
    ],
)
def test_rows_to_sweep_names_the_parameter_and_the_column(group_by, features, message):
    table = pd.DataFrame({"site": ["a", "b"], "x": [0.5, 1.5], "y": [1.0, 2.0], "note": ["a", "b"]})
    table = table.assign(empty=np.nan, one="a") if group_by == "one" or "empty" in features else table
    with pytest.raises(clustering.DataError) as error:
        clustering.rows_to_sweep(table, group_by, features)
    assert str(error.value).startswith(message.split(" (columns")[0])


def test_chosen_eps_is_the_best_by_the_metric_and_none_when_undefined(biscoe):
    results = clustering.sweep(biscoe, clustering.FEATURES, [0.3, 0.9, 1.5], 3)
    table = pd.DataFrame([{"eps": r.eps, **r.metrics} for r in results], dtype="float64")
    assert clustering.chosen_eps(results, "silhouette") == clustering.best(table, "silhouette")["eps"]
    undefined = clustering.sweep(biscoe.head(2), clustering.FEATURES, [0.5], 3)
    assert clustering.chosen_eps(undefined, "s_dbw") is None


def test_scores_by_group_scores_each_group_standardised_on_its_own():
    frame = load_penguins().frame
    rows = clustering.rows_to_sweep(frame, "island", clustering.FEATURES)
    labels = np.zeros(len(rows), dtype=np.int64)
    biscoe = rows["island"] == "Biscoe"
    model = clustering.fit_model(rows.loc[biscoe, list(clustering.FEATURES)], 0.5, 3)
    labels[biscoe.to_numpy()] = model.named_steps["dbscan"].labels_
    scores = clustering.scores_by_group(rows, "island", clustering.FEATURES, labels, "s_dbw")
    assert sorted(scores) == ["Biscoe", "Dream", "Torgersen"]
    scaled = model.named_steps["standardscaler"].transform(rows.loc[biscoe, list(clustering.FEATURES)])
    assert scores["Biscoe"] == clustering.cluster_metrics(scaled, model.named_steps["dbscan"].labels_)["s_dbw"]
    assert scores["Dream"] is None  # one cluster: s_dbw is undefined
