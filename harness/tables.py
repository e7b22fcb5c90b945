"""Tables of the kind users bring to the sweep: many groups in a column of their choosing, numeric features."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

FEATURES = ("temperature", "humidity", "pressure", "wind")


def grouped_table(groups: Sequence[str], rows_per_group: int = 110, group_by: str = "site", seed: int = 0):
    """`rows_per_group` rows per group: a few Gaussian blobs in FEATURES (so DBSCAN finds clusters
    and noise), each group its own centres and scale. Reproducible from `seed`."""
    rng = np.random.default_rng(seed)
    frames = []
    for group in groups:
        centres = rng.normal(0, 10, size=(3, len(FEATURES)))
        which = rng.integers(0, len(centres), size=rows_per_group)
        values = centres[which] + rng.normal(0, 1.5, size=(rows_per_group, len(FEATURES)))
        values *= rng.uniform(0.5, 50, size=len(FEATURES))  # features on unlike scales, as real ones are
        frame = pd.DataFrame(values, columns=list(FEATURES))
        frame.insert(0, group_by, group)
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def numbered_groups(count: int) -> list[str]:
    """`site-0000`, `site-0001`, ...: names that sort as numbered."""
    return [f"site-{i:04d}" for i in range(count)]
