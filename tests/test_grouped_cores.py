"""GroupedCores: many groups' models in one set of arrays, labelling rows as each group's own model does."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from harness.tables import FEATURES, grouped_table, numbered_groups
from steps.ml import clustering
from steps.ml.dbscan import NearestCoreDBSCAN
from steps.ml.grouped_cores import (
    PAIRS_AT_ONCE,
    ROWS_FOR_DENSE,
    GroupCores,
    GroupedCores,
    nearest_core_labels,
    pair_batches,
)

GROUPS = 60


@pytest.fixture(scope="module")
def sweep():
    """60 generated groups, each with the model the sweep would choose for it (none where no eps is defined)."""
    table = grouped_table(numbered_groups(GROUPS), rows_per_group=40)
    models = {}
    for group, rows in table.groupby("site", sort=True):
        results = clustering.sweep(rows, FEATURES, (0.3, 0.6, 1.2), 3)
        chosen = clustering.chosen_eps(results, "s_dbw")
        models[group] = next((r.model for r in results if r.eps == chosen), None)
    return table, models


def grouped(models: dict) -> GroupedCores:
    served = [(m.named_steps["dbscan"].eps, clustering.group_cores(m)) if m else None for m in models.values()]
    return GroupedCores.of(served, len(FEATURES))


def own_labels(table: pd.DataFrame, models: dict) -> np.ndarray:
    """Each row as its group's own model labels it (-1 for a group without one)."""
    labels = np.full(len(table), -1)
    for group, model in models.items():
        mine = (table["site"] == group).to_numpy()
        if model is not None and mine.any():
            labels[mine] = model.predict(table.loc[mine, list(FEATURES)])
    return labels


@pytest.mark.parametrize("rows", [1, 7, 200, 5000])
def test_every_row_is_labelled_as_its_groups_own_model_labels_it(sweep, rows):
    """Batches that meet each group rarely (pairs), often (dense) and both at once."""
    table, models = sweep
    batch = pd.concat([table.sample(rows, replace=True, random_state=rows), table.head(3 * ROWS_FOR_DENSE)])
    batch = batch.sample(frac=1, random_state=0).reset_index(drop=True)  # groups in no order
    # New rows near the training rows, so that both clusters and noise come up.
    jitter = np.random.default_rng(rows).normal(0, 0.05, size=(len(batch), len(FEATURES)))
    batch.loc[:, list(FEATURES)] += jitter * batch.loc[:, list(FEATURES)].std().to_numpy()
    numbers = pd.Index(list(models)).get_indexer(batch["site"])

    labels = grouped(models).label(batch.loc[:, list(FEATURES)].to_numpy(), numbers)

    assert (labels == own_labels(batch, models)).all()
    assert len(set(labels)) > 2  # clusters and noise were both met


def test_ties_and_distances_of_exactly_eps_are_decided_as_the_groups_model_decides_them():
    # Cores at 0 and 2 (clusters 0 and 1, each three points); rows on the midpoint (a tie), at exactly
    # eps from a core, and just beyond it.
    X = np.array([[0.0], [0.0], [0.0], [2.0], [2.0], [2.0]])
    dbscan = NearestCoreDBSCAN(eps=1.0, min_samples=3).fit(X)
    rows = np.array([[1.0], [3.0], [-1.0], [3.0000001], [1.5]])
    expected = dbscan.predict(rows)
    assert expected.tolist() == [0, 1, 0, -1, 1]
    cores = GroupCores(np.zeros(1), np.ones(1), dbscan.components_, dbscan.core_labels_)
    both = GroupedCores.of([(1.0, cores), (1.0, cores)], 1)
    for groups in (np.zeros(len(rows), int), np.arange(len(rows)) % 2):
        assert both.label(rows, groups).tolist() == expected.tolist()
    many = np.repeat(rows, ROWS_FOR_DENSE, axis=0)  # the same rows, met often enough to go dense
    assert both.label(many, np.zeros(len(many), int)).tolist() == np.repeat(expected, ROWS_FOR_DENSE).tolist()


def test_a_group_without_a_model_or_without_core_samples_labels_every_row_noise():
    lonely = NearestCoreDBSCAN(eps=0.5, min_samples=3).fit(np.array([[0.0, 0.0], [9.0, 9.0]]))
    no_cores = GroupCores(np.zeros(2), np.ones(2), lonely.components_, lonely.core_labels_)
    cores = GroupedCores.of([None, (0.5, no_cores)], 2)
    rows = np.zeros((3 * ROWS_FOR_DENSE, 2))
    assert (cores.label(rows, np.tile([0, 1, 1], ROWS_FOR_DENSE)) == -1).all()
    assert np.isnan(cores.eps[0]) and cores.eps[1] == 0.5


def test_saved_arrays_load_memory_mapped_and_label_the_same(sweep, tmp_path):
    table, models = sweep
    cores = grouped(models)
    cores.save(tmp_path / "cores")
    loaded = GroupedCores.load(tmp_path / "cores")
    assert isinstance(loaded.cores.base, np.memmap)  # a plain view of the map: read when a group is asked about
    numbers = pd.Index(list(models)).get_indexer(table["site"])
    X = table.loc[:, list(FEATURES)].to_numpy()
    assert (loaded.label(X, numbers) == cores.label(X, numbers)).all()


def test_a_groups_cores_survive_their_bytes(sweep):
    _, models = sweep
    model = next(m for m in models.values() if m is not None)
    cores = clustering.group_cores(model)
    again = GroupCores.from_bytes(cores.to_bytes())
    for name in ("centre", "scale", "cores", "labels"):
        assert np.array_equal(getattr(again, name), getattr(cores, name))


def test_a_large_batch_is_labelled_in_passes_of_bounded_size():
    counts = np.array([3, 0, 5, 2, 7, 1])
    batches = list(pair_batches(counts, 8))
    assert [(b.start, b.stop) for b in batches] == [(0, 3), (3, 4), (4, 6)]
    assert list(pair_batches(np.array([20, 1]), 8)) == [slice(0, 1), slice(1, 2)]  # a row alone may exceed it


def test_the_one_group_rule_chunks_a_large_batch_without_changing_it():
    rng = np.random.default_rng(3)
    cores, labels = rng.normal(size=(4, 300)), rng.integers(0, 5, size=300)
    rows = rng.normal(size=(PAIRS_AT_ONCE // 300 * 2 + 17, 4))
    whole = nearest_core_labels(rows, cores, labels, 0.8)
    squared = ((rows[:, None, :] - cores.T[None, :, :]) ** 2).sum(axis=2)
    nearest = squared.argmin(axis=1)
    expected = np.where(np.sqrt(squared[np.arange(len(rows)), nearest]) <= 0.8, labels[nearest], -1)
    assert (whole == expected).all()


def test_the_sweep_pipeline_predicts_with_the_same_rule():
    rows = grouped_table(["a"], rows_per_group=50).loc[:, list(FEATURES)]
    model = clustering.fit_model(rows, 0.6, 3)
    cores = clustering.group_cores(model)
    scaled = (rows.to_numpy() - cores.centre) / cores.scale
    assert (model.predict(rows) == nearest_core_labels(scaled, cores.cores.T, cores.labels, 0.6)).all()
