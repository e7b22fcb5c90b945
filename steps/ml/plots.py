"""Figures for the steps' artifacts: data in, matplotlib figure out. No MLflow here."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")  # headless: steps run on servers and clusters

import numpy as np
import pandas as pd
from matplotlib import pyplot as plt
from matplotlib.figure import Figure


def close(figure: Figure) -> None:
    """Release a figure once it is logged (pyplot keeps every figure it made)."""
    plt.close(figure)


def roc_curve_figure(is_positive: np.ndarray, scores: np.ndarray, positive: str) -> Figure:
    fig, ax = plt.subplots(figsize=(5, 5))
    from sklearn.metrics import RocCurveDisplay

    RocCurveDisplay.from_predictions(is_positive, scores, name=f"P({positive})", ax=ax, plot_chance_level=True)
    ax.set_title("ROC curve, test set")
    fig.tight_layout()
    return fig


def confusion_figure(matrix: pd.DataFrame) -> Figure:
    fig, ax = plt.subplots(figsize=(4.5, 4))
    import seaborn as sns  # imported here: it costs seconds, and most callers never draw a heatmap

    sns.heatmap(matrix, annot=True, fmt="d", cmap="Blues", cbar=False, ax=ax)
    ax.set_title("Confusion matrix, test set")
    fig.tight_layout()
    return fig


def rmse_by_alpha_figure(table: pd.DataFrame, best_alpha: float) -> Figure:
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.errorbar(table["alpha"], table["cv_rmse"], yerr=table["cv_rmse_std"], marker="o", capsize=3)
    ax.axvline(best_alpha, color="tab:red", linestyle="--", label=f"best alpha = {best_alpha:g}")
    ax.set_xscale("log")
    ax.set_xlabel("alpha (log scale)")
    ax.set_ylabel("CV RMSE (g)")
    ax.set_title("Ridge: cross-validated RMSE by alpha")
    ax.legend()
    fig.tight_layout()
    return fig


def sweep_figure(group: str, rows: pd.DataFrame, metrics: tuple[str, ...], chosen_eps: float | None) -> Figure:
    """Each metric against eps for one group, one band each, scaled to its own range; the chosen
    eps marked. On the right: each metric's value at the chosen eps, then its range.

    Undefined values are gaps in the curve, not zeros. Like clusters_figure, drawn for every
    group of a sweep, in its tasks: a bare Figure (no pyplot, which is not thread-safe), one
    axes and a fixed layout, as axes, ticks and text are most of a figure's cost.
    """
    fig = Figure(figsize=(7, 0.45 * len(metrics) + 1.2))
    ax = fig.subplots()
    eps = rows["eps"].to_numpy(dtype="float64")
    at_chosen = eps == chosen_eps
    bands = range(len(metrics) - 1, -1, -1)  # the first metric on top
    for band, metric in zip(bands, metrics, strict=True):
        values = rows[metric].to_numpy(dtype="float64")
        low, high = np.nanmin(values, initial=np.inf), np.nanmax(values, initial=-np.inf)
        ax.plot(eps, band + 0.8 * (values - low) / ((high - low) or 1.0), marker="o", markersize=3, color="tab:blue")
        chosen_value = values[at_chosen][0] if at_chosen.any() else np.nan
        label = "" if np.isnan(chosen_value) else f"{chosen_value:.3g} "
        label += f"({low:.3g} to {high:.3g})" if np.isfinite(low) else "undefined"
        ax.text(1.01, band + 0.4, label, transform=ax.get_yaxis_transform(), va="center", fontsize=7)
    ax.set_yticks([band + 0.4 for band in bands], metrics, fontsize=8)
    ax.tick_params(axis="y", length=0)
    ax.tick_params(axis="x", labelsize=7)
    ax.set_ylim(-0.2, len(metrics))
    ax.set_xlabel("eps")
    if chosen_eps is not None:
        ax.axvline(chosen_eps, color="tab:red", linestyle="--", linewidth=1)
    header = f"at eps {chosen_eps:g} (range)" if chosen_eps is not None else "(range)"
    ax.text(1.01, len(metrics) - 0.05, header, transform=ax.get_yaxis_transform(), va="top", fontsize=7, weight="bold")
    chosen = f"chosen eps = {chosen_eps:g}" if chosen_eps is not None else "no eps chosen"
    ax.set_title(f"{group}: metrics by eps, each scaled to its range ({chosen})", fontsize=10)
    fig.subplots_adjust(left=0.2, right=0.8, top=0.9, bottom=0.12)
    return fig


def clusters_figure(title: str, features: pd.DataFrame, labels: np.ndarray) -> Figure:
    """One group's rows in two dimensions, coloured by cluster, noise as grey crosses.

    The two dimensions: the features themselves when there are at most two, else the first two
    principal components of the standardised features (their share of the variance on the axes)."""
    from matplotlib import colormaps
    from sklearn.decomposition import PCA
    from sklearn.preprocessing import StandardScaler

    X = features.to_numpy(dtype="float64")
    if X.shape[1] <= 2:
        points = X if X.shape[1] == 2 else np.column_stack([X[:, 0], np.zeros(len(X))])
        axes = [*features.columns, ""][:2]
    else:
        pca = PCA(n_components=2).fit(scaled := StandardScaler().fit_transform(X))
        points = pca.transform(scaled)
        axes = [f"PC{i + 1} ({share:.0%} of the variance)" for i, share in enumerate(pca.explained_variance_ratio_)]
    fig = Figure(figsize=(6, 5))
    ax = fig.subplots()
    noise = labels == -1
    ax.scatter(points[noise, 0], points[noise, 1], marker="x", color="0.6", label="noise")
    colours = colormaps["tab10"]
    for position, cluster in enumerate(sorted(set(labels[~noise]))):
        member = labels == cluster
        ax.scatter(points[member, 0], points[member, 1], s=18, color=colours(position % 10), label=f"cluster {cluster}")
    ax.set_xlabel(axes[0])
    ax.set_ylabel(axes[1])
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8, loc="best")
    fig.subplots_adjust(left=0.12, right=0.97, top=0.92, bottom=0.1)
    return fig


GROUPS_SHOWN = 30  # groups in an answers figure: the ones with the most rows


def answers_figure(title: str, table: pd.DataFrame, key: str) -> Figure:
    """How a table was scored, from `score`'s answer table: per group (the 30 with the most rows) its rows
    clustered, noise and unscored, for the router (columns group, `key`, rows); else rows per label, or per bin
    of the prediction (columns from, to, rows), unscored rows (an empty answer) apart."""
    fig = Figure(figsize=(7, 5))
    ax = fig.subplots()
    unscored_key = table[key].isna() if key in table else table["from"].isna()
    if "group" in table:
        shares = (
            pd.DataFrame(
                {
                    "clustered": table["rows"].where(table[key] >= 0, 0),
                    "noise": table["rows"].where(table[key] == -1, 0),
                    "unscored": table["rows"].where(unscored_key, 0),
                    "group": table["group"].fillna("(none)"),
                }
            )
            .groupby("group")
            .sum()
        )
        shown = shares.loc[shares.sum(axis=1).sort_values(ascending=False).index[:GROUPS_SHOWN]].iloc[::-1]
        left = np.zeros(len(shown))
        for name, colour in (("clustered", "tab:blue"), ("noise", "0.6"), ("unscored", "tab:red")):
            ax.barh(range(len(shown)), shown[name], left=left, color=colour, label=name)
            left += shown[name].to_numpy()
        ax.set_yticks(range(len(shown)), [str(g)[:24] for g in shown.index], fontsize=7)
        ax.set_xlabel("rows")
        ax.legend(fontsize=8, loc="lower right")
        title += f" ({len(shown)} of {len(shares)} groups, the most rows first)" if len(shares) > len(shown) else ""
    elif key in table:
        labels = [("unscored" if pd.isna(v) else str(v))[:20] for v in table[key]]
        ax.bar(range(len(table)), table["rows"], color=["tab:red" if u else "tab:blue" for u in unscored_key])
        ax.set_xticks(range(len(table)), labels, fontsize=8, rotation=30, ha="right")
        ax.set_ylabel("rows")
    else:
        binned = table[~unscored_key]
        ax.bar(binned["from"], binned["rows"], width=binned["to"] - binned["from"], align="edge", color="tab:blue")
        ax.set_xlabel(key)
        ax.set_ylabel("rows")
        title += f", {int(table.loc[unscored_key, 'rows'].sum())} unscored"
    ax.set_title(title, fontsize=10)
    fig.subplots_adjust(left=0.2, right=0.97, top=0.92, bottom=0.15)
    return fig
