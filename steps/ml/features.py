"""The shared feature encoder: raw penguin columns in, the documented codes out."""

from __future__ import annotations

from collections.abc import Sequence

from sklearn.compose import ColumnTransformer
from sklearn.preprocessing import OrdinalEncoder

from steps.ml.data import CATEGORIES


def category_encoder(categorical: Sequence[str], numeric: Sequence[str]) -> ColumnTransformer:
    """Codes for `categorical` columns (the mapping in steps.ml.data), then `numeric` columns unchanged.

    Pure scikit-learn, so a logged model needs none of this project's code to load.
    """
    encoder = OrdinalEncoder(categories=[list(CATEGORIES[c]) for c in categorical], dtype="float64")
    return ColumnTransformer(
        [("categories", encoder, list(categorical)), ("measurements", "passthrough", list(numeric))],
        verbose_feature_names_out=False,
    )
