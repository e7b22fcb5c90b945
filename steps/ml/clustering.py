"""DBSCAN sweeps over eps for one group of penguins, and how to pick the best eps. No MLflow, no Spark.

Every metric is computed on the same standardised data DBSCAN clustered. Noise points
(label -1) are not a cluster: silhouette, Calinski-Harabasz and Davies-Bouldin are
computed on the clustered points, and S_Dbw filters noise (`alg_noise='filter'`). A
metric that is undefined for a clustering (fewer than two clusters, or every clustered
point in its own cluster) is None, never a stand-in number: -1 is a legal silhouette.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from steps.ml.data import MEASUREMENTS, DataError
from steps.ml.grouped_cores import GroupCores

if TYPE_CHECKING:
    from sklearn.pipeline import Pipeline

DEFAULT_EPS = (0.1, 0.2, 0.3, 0.5, 0.7, 0.9, 1.1, 1.3, 1.5)
# Which way each quality metric points: True when lower is better.
LOWER_IS_BETTER = {"s_dbw": True, "davies_bouldin": True, "silhouette": False, "calinski_harabasz": False}
QUALITY = tuple(LOWER_IS_BETTER)
COUNTS = ("n_clusters", "n_clustered_records", "noise_ratio")
METRICS = (*QUALITY, *COUNTS)
FEATURES = MEASUREMENTS


@dataclass(frozen=True)
class EpsResult:
    eps: float
    metrics: dict[str, float | None]  # None: undefined for this clustering
    model: Pipeline  # StandardScaler + the fitted NearestCoreDBSCAN: raw features in, cluster labels out


def rows_to_sweep(frame: pd.DataFrame, group_by: str, features: Sequence[str]) -> pd.DataFrame:
    """The group column as text and the features as floats, from any table; rows where the group
    or a feature is empty are left out. DataError names the parameter when a column cannot serve."""
    columns = ", ".join(map(str, frame.columns[:20])) + (", ..." if len(frame.columns) > 20 else "")
    if group_by not in frame.columns:
        raise DataError(f"group_by: no column '{group_by}' in the data (columns: {columns})")
    groups = frame[group_by]
    if pd.api.types.is_float_dtype(groups):  # whole numbers with gaps read as floats: 7.0 -> '7'
        if not (groups.dropna() % 1 == 0).all():
            raise DataError(f"group_by: column '{group_by}' must hold text or whole numbers, not decimals")
        groups = groups.astype("Int64")
    missing = [f for f in features if f not in frame.columns]
    if missing:
        raise DataError(f"features: no column(s) {', '.join(missing)} in the data (columns: {columns})")
    if group_by in features:
        raise DataError(f"features: must not include the group_by column '{group_by}'")
    table = pd.DataFrame({group_by: groups.astype("string")})
    for feature in features:
        values = pd.to_numeric(frame[feature], errors="coerce")
        text = frame[feature][values.isna() & frame[feature].notna()]
        if len(text):
            raise DataError(f"features: column '{feature}' must be numeric; it holds '{text.iloc[0]}'")
        if values.isna().all():
            raise DataError(f"features: column '{feature}' has no values")
        table[feature] = values.astype("float64")
    complete = table.dropna().astype({group_by: str}).reset_index(drop=True)
    present = sorted(complete[group_by].unique())
    if len(present) < 2:  # one group is not a per-group sweep: the tutorial's point is comparing groups
        shown = f"only '{present[0]}'" if present else "no complete row"
        raise DataError(f"group_by: must be a column with two or more groups in the data; '{group_by}' has {shown}")
    return complete


def cluster_metrics(scaled: np.ndarray, labels: np.ndarray) -> dict[str, float | None]:
    """The seven metrics of one clustering of `scaled` (labels -1 = noise)."""
    # scikit-learn and s_dbw are imported where used: declaring cluster_islands' parameters
    # (DEFAULT_EPS, QUALITY) must not pay for importing them.
    from s_dbw import S_Dbw
    from sklearn.metrics import calinski_harabasz_score, davies_bouldin_score, silhouette_score

    clustered = labels != -1
    n_clusters = len(set(labels[clustered]))
    metrics: dict[str, float | None] = {
        "n_clusters": float(n_clusters),
        "n_clustered_records": float(clustered.sum()),
        "noise_ratio": float(1 - clustered.mean()) if len(labels) else None,
    }
    # silhouette needs 2 <= clusters <= points - 1; the others need two clusters.
    defined = n_clusters >= 2 and clustered.sum() > n_clusters
    if not defined:
        return {**metrics, **dict.fromkeys(QUALITY)}
    X, y = scaled[clustered], labels[clustered]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # s_dbw divides by zero-variance clusters
        s_dbw = float(S_Dbw(scaled, labels, alg_noise="filter"))
    return {
        **metrics,
        "silhouette": float(silhouette_score(X, y)),
        "calinski_harabasz": float(calinski_harabasz_score(X, y)),
        "davies_bouldin": float(davies_bouldin_score(X, y)),
        "s_dbw": s_dbw if np.isfinite(s_dbw) else None,
    }


def scores_by_group(
    rows: pd.DataFrame, group_by: str, features: Sequence[str], labels: np.ndarray, metric: str
) -> dict[str, float | None]:
    """`metric` of one labelling of `rows` (-1 = noise), group by group, each group standardised as the sweep does:
    how a champion and a challenger are compared on the same rows."""
    from sklearn.preprocessing import StandardScaler

    scores = {}
    for group, index in rows.groupby(group_by, sort=True).indices.items():
        scaled = StandardScaler().fit_transform(rows.iloc[index][list(features)])
        scores[str(group)] = cluster_metrics(scaled, np.asarray(labels)[index])[metric]
    return scores


def sweep(
    group: pd.DataFrame, features: Sequence[str], eps_values: Sequence[float], min_samples: int
) -> list[EpsResult]:
    """Standardise `features` of one group, then fit DBSCAN(eps, min_samples) for every eps.

    A group with fewer rows than min_samples has no core sample: every row is noise, the
    quality metrics are undefined, and its models label every new row noise too.
    """
    X = group.loc[:, list(features)]
    results = []
    for eps in eps_values:
        model = fit_model(X, eps, min_samples)
        scaled = model.named_steps["standardscaler"].transform(X)
        results.append(EpsResult(float(eps), cluster_metrics(scaled, model.named_steps["dbscan"].labels_), model))
    return results


def fit_model(X: pd.DataFrame, eps: float, min_samples: int) -> Pipeline:
    """One group's model: StandardScaler + NearestCoreDBSCAN(eps, min_samples), fitted on its rows."""
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    from steps.ml.dbscan import NearestCoreDBSCAN

    dbscan = NearestCoreDBSCAN(eps=eps, min_samples=min_samples)
    return Pipeline([("standardscaler", StandardScaler()), ("dbscan", dbscan)]).fit(X)


def group_cores(model: Pipeline) -> GroupCores:
    """What a fitted sweep model (`EpsResult.model`) labels new rows with, for the router."""
    scaler, dbscan = model.named_steps["standardscaler"], model.named_steps["dbscan"]
    return GroupCores(scaler.mean_, scaler.scale_, dbscan.components_, dbscan.core_labels_)


def preference(select_by: str) -> str:
    """`select_by` with its direction, as recorded on the runs: 's_dbw (lower is better)'."""
    return f"{select_by} ({'lower' if LOWER_IS_BETTER[select_by] else 'higher'} is better)"


def metrics_table(results: Sequence[EpsResult]) -> pd.DataFrame:
    """One row per eps: `eps` and every metric (NaN where undefined)."""
    return pd.DataFrame([{"eps": r.eps, **r.metrics} for r in results], columns=["eps", *METRICS], dtype="float64")


def chosen_eps(results: Sequence[EpsResult], select_by: str) -> float | None:
    """The eps `best` picks among a sweep's results; None when `select_by` is undefined for all."""
    chosen = best(metrics_table(results), select_by)
    return None if chosen is None else float(chosen["eps"])


def best(rows: pd.DataFrame, select_by: str) -> pd.Series | None:
    """The row with the best `select_by` value (direction from LOWER_IS_BETTER); None if all undefined.

    Ties go to the smaller eps, so the choice is deterministic.
    """
    defined = rows.dropna(subset=[select_by]).sort_values("eps")
    if defined.empty:
        return None
    values = defined[select_by]
    index = values.idxmin() if LOWER_IS_BETTER[select_by] else values.idxmax()
    return defined.loc[index]
