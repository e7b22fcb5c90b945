"""The nearest-core rule that labels new rows, for one group or for many at once. numpy only.

A group's model (a StandardScaler, then steps/ml/dbscan.py's NearestCoreDBSCAN) labels a row
with the cluster of its nearest core sample within eps, else -1 (noise): `nearest_core_labels`.
GroupedCores holds every group's scaler and core samples in one set of arrays, with offsets, and
labels rows of many groups at once, as the router (steps/sweep/router_model.py) serves them: the
rows of a group met often in a batch with that group's dense distances, all the other rows in
one pass over (row, core sample) pairs, so a batch that meets a thousand groups once each pays
no fixed cost per group. Both ways compute a distance the same way, feature by feature, so the
router gives the labels each group's own model gives, ties and distances of exactly eps included.
Saved as .npy files and memory-mapped when loaded: a router opens as fast at 10 groups as at
10,000, and reads only the groups it is asked about.
"""

from __future__ import annotations

import io
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np

PAIRS_AT_ONCE = 1 << 20  # (row, core sample) distances per pass: bounds the memory a large batch takes
ROWS_FOR_DENSE = 8  # a group met this often in a batch is labelled on its own (docs/performance.md)


def nearest_core_labels(X: np.ndarray, cores: np.ndarray, labels: np.ndarray, eps: float) -> np.ndarray:
    """The cluster of each row of `X` (scaled, rows x features): its nearest core sample's (`cores`:
    features x core samples, `labels` their clusters) if within `eps`, else -1; the first such core on ties."""
    result = np.full(len(X), -1, dtype=np.int64)
    if cores.shape[1] == 0:
        return result
    step = max(1, PAIRS_AT_ONCE // cores.shape[1])
    for start in range(0, len(X), step):
        rows = X[start : start + step]
        squared = np.zeros((len(rows), cores.shape[1]))
        for feature in range(cores.shape[0]):
            squared += (rows[:, feature, None] - cores[feature][None, :]) ** 2
        nearest = squared.argmin(axis=1)
        distance = np.sqrt(squared[np.arange(len(rows)), nearest])
        result[start : start + step] = np.where(distance <= eps, labels[nearest], -1)
    return result


@dataclass(frozen=True)
class GroupCores:
    """What one group's model labels new rows with: its scaler's centre and scale, its core samples
    (scaled, one row each) and their clusters."""

    centre: np.ndarray  # (features,)
    scale: np.ndarray  # (features,)
    cores: np.ndarray  # (core samples, features)
    labels: np.ndarray  # (core samples,)

    def to_bytes(self) -> bytes:
        buffer = io.BytesIO()
        np.savez(buffer, **{f.name: getattr(self, f.name) for f in fields(self)})
        return buffer.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> GroupCores:
        with np.load(io.BytesIO(data), allow_pickle=False) as arrays:
            return cls(**{f.name: arrays[f.name] for f in fields(cls)})


@dataclass(frozen=True)
class GroupedCores:
    """Groups numbered 0..G-1; group g's core samples are columns offsets[g]:offsets[g + 1] of `cores`."""

    eps: np.ndarray  # (groups,); NaN for a group without a model, which labels every row -1
    centres: np.ndarray  # (groups, features)
    scales: np.ndarray  # (groups, features)
    offsets: np.ndarray  # (groups + 1,)
    cores: np.ndarray  # (features, all core samples): one row per feature, each contiguous
    labels: np.ndarray  # (all core samples,)

    @classmethod
    def of(cls, groups: Sequence[tuple[float, GroupCores] | None], features: int) -> GroupedCores:
        """From each group's (eps, cores), or None for a group without a model."""
        empty = GroupCores(np.zeros(features), np.ones(features), np.zeros((0, features)), np.zeros(0, np.int64))
        served = [given if given is not None else (np.nan, empty) for given in groups]
        counts = [len(cores.labels) for _, cores in served]
        return cls(
            eps=np.array([eps for eps, _ in served], dtype=np.float64),
            centres=np.array([cores.centre for _, cores in served], dtype=np.float64).reshape(-1, features),
            scales=np.array([cores.scale for _, cores in served], dtype=np.float64).reshape(-1, features),
            offsets=np.concatenate([[0], np.cumsum(counts)]).astype(np.int64),
            cores=np.concatenate([cores.cores for _, cores in served]).astype(np.float64).T.copy(),
            labels=np.concatenate([cores.labels for _, cores in served]).astype(np.int64),
        )

    def save(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        for field in fields(self):
            np.save(directory / f"{field.name}.npy", getattr(self, field.name), allow_pickle=False)

    @classmethod
    def load(cls, directory: str | Path) -> GroupedCores:
        """Memory-mapped: a group's pages are read when it is first asked about."""
        # As plain ndarray views of the maps: slicing a np.memmap costs more than the distances of a small group.
        return cls(
            **{f.name: np.asarray(np.load(Path(directory, f"{f.name}.npy"), mmap_mode="r")) for f in fields(cls)}
        )

    def label(self, X: np.ndarray, groups: np.ndarray) -> np.ndarray:
        """The cluster of each row of `X` (raw features) by its group's model (`groups`: each row's group number)."""
        X, groups = np.asarray(X, dtype=np.float64), np.asarray(groups, dtype=np.intp)
        labels = np.full(len(X), -1, dtype=np.int64)
        often = np.bincount(groups, minlength=len(self.eps))[groups] >= ROWS_FOR_DENSE
        for rows in rows_by_group(np.flatnonzero(often), groups):
            labels[rows] = self._label_group(X[rows], groups[rows[0]])
        rest = np.flatnonzero(~often)
        counts = self.offsets[groups[rest] + 1] - self.offsets[groups[rest]]
        for batch in pair_batches(counts, PAIRS_AT_ONCE):
            labels[rest[batch]] = self._label_pairs(X[rest[batch]], groups[rest[batch]], counts[batch])
        return labels

    def _label_group(self, X: np.ndarray, group: int) -> np.ndarray:
        start, stop = self.offsets[group], self.offsets[group + 1]
        scaled = (X - self.centres[group]) / self.scales[group]
        return nearest_core_labels(scaled, self.cores[:, start:stop], self.labels[start:stop], self.eps[group])

    def _label_pairs(self, X: np.ndarray, groups: np.ndarray, counts: np.ndarray) -> np.ndarray:
        """Rows of any groups at once: each row's distance to every core sample of its group, pair by pair."""
        labels = np.full(len(X), -1, dtype=np.int64)
        rows = np.flatnonzero(counts)  # rows whose group has core samples
        if not len(rows):
            return labels
        groups, counts = groups[rows], counts[rows]
        starts = np.cumsum(counts) - counts  # where each row's pairs begin
        pair_row = np.repeat(np.arange(len(rows)), counts)
        pair_core = np.arange(counts.sum()) - np.repeat(starts - self.offsets[groups], counts)
        scaled = ((X[rows] - self.centres[groups]) / self.scales[groups]).T
        squared = np.zeros(len(pair_row))
        for feature in range(len(scaled)):
            squared += (scaled[feature][pair_row] - self.cores[feature][pair_core]) ** 2
        nearest = np.minimum.reduceat(squared, starts)
        positions = np.where(squared == np.repeat(nearest, counts), np.arange(len(squared)), len(squared))
        first = np.minimum.reduceat(positions, starts)  # the first nearest core sample, as argmin picks it
        labels[rows] = np.where(np.sqrt(nearest) <= self.eps[groups], self.labels[pair_core[first]], -1)
        return labels


def rows_by_group(rows: np.ndarray, groups: np.ndarray) -> list[np.ndarray]:
    """`rows` split by their group (`groups[row]`), each part in row order."""
    ordered = rows[np.argsort(groups[rows], kind="stable")]
    return np.split(ordered, np.flatnonzero(np.diff(groups[ordered])) + 1) if len(ordered) else []


def pair_batches(counts: np.ndarray, limit: int) -> Iterator[slice]:
    """Consecutive slices of rows whose pairs (`counts` per row) add up to at most `limit`, or one row."""
    ends = np.cumsum(counts)
    start = 0
    while start < len(counts):
        before = ends[start - 1] if start else 0
        stop = max(int(np.searchsorted(ends, before + limit, side="right")), start + 1)
        yield slice(start, stop)
        start = stop
