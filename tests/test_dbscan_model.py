"""NearestCoreDBSCAN on its own: DBSCAN's fit, a predict that keeps it, and a model file that loads."""

from __future__ import annotations

import numpy as np
import pytest
import skops.io
from sklearn.cluster import DBSCAN

from steps.ml import clustering
from steps.ml.data import load_penguins
from steps.ml.dbscan import NearestCoreDBSCAN


def islands():
    frame = load_penguins().frame
    return {name: rows.loc[:, list(clustering.FEATURES)] for name, rows in frame.groupby("island")}


CASES = [(island, eps) for island in ("Biscoe", "Dream", "Torgersen") for eps in clustering.DEFAULT_EPS]


@pytest.fixture(scope="module")
def fitted():
    """(island, eps) -> (the fitted pipeline, the island's rows)."""
    rows = islands()
    return {
        (island, result.eps): (result.model, rows[island])
        for island in rows
        for result in clustering.sweep(rows[island], clustering.FEATURES, clustering.DEFAULT_EPS, 3)
    }


@pytest.mark.parametrize(("island", "eps"), CASES)
def test_fit_labels_are_dbscans(fitted, island, eps):
    model, rows = fitted[island, eps]
    scaled = model.named_steps["standardscaler"].transform(rows)
    assert (model.named_steps["dbscan"].labels_ == DBSCAN(eps=eps, min_samples=3).fit(scaled).labels_).all()


@pytest.mark.parametrize(("island", "eps"), CASES)
def test_predict_gives_core_samples_and_noise_their_fit_labels(fitted, island, eps):
    model, rows = fitted[island, eps]
    dbscan = model.named_steps["dbscan"]
    predicted, fit = model.predict(rows), dbscan.labels_
    core = np.zeros(len(rows), dtype=bool)
    core[dbscan.core_sample_indices_] = True
    assert (predicted[core] == fit[core]).all()
    assert (predicted[fit == -1] == -1).all()
    # A border point gets a cluster that has a core sample within eps of it.
    scaled = model.named_steps["standardscaler"].transform(rows)
    for row in np.flatnonzero(~core & (fit != -1)):
        near = np.linalg.norm(dbscan.components_ - scaled[row], axis=1) <= eps
        assert predicted[row] in set(dbscan.core_labels_[near])


def test_a_row_on_a_core_sample_gets_its_cluster_and_a_far_row_is_noise(fitted):
    model, rows = fitted["Biscoe", 0.5]
    dbscan = model.named_steps["dbscan"]
    on_cores = rows.iloc[dbscan.core_sample_indices_]
    assert (model.predict(on_cores) == dbscan.core_labels_).all()
    far = rows.head(1) * 10
    assert model.predict(far).tolist() == [-1]


def test_no_core_samples_labels_everything_noise():
    X = np.array([[0.0, 0.0], [10.0, 10.0]])
    model = NearestCoreDBSCAN(eps=0.5, min_samples=3).fit(X)
    assert model.labels_.tolist() == [-1, -1]
    assert model.predict(np.array([[0.0, 0.0], [5.0, 5.0]])).tolist() == [-1, -1]


def test_the_model_file_loads_with_skops_trusting_only_this_class(fitted, tmp_path):
    model, rows = fitted["Dream", 0.5]
    skops.io.dump(model, tmp_path / "model.skops")
    assert skops.io.get_untrusted_types(file=tmp_path / "model.skops") == ["steps.ml.dbscan.NearestCoreDBSCAN"]
    loaded = skops.io.load(tmp_path / "model.skops", trusted=["steps.ml.dbscan.NearestCoreDBSCAN"])
    assert (loaded.predict(rows) == model.predict(rows)).all()
