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
    """Each metric against eps for one group, one row each over a shared eps axis; the chosen eps marked.

    Undefined values are gaps in the curve, not zeros. Like clusters_figure, drawn for every
    group of a sweep, in its tasks: a bare Figure (no pyplot, which is not thread-safe), a fixed
    layout and few tick labels, as laying out and drawing text is most of a figure's cost.
    """
    from matplotlib.ticker import MaxNLocator

    fig = Figure(figsize=(7, 1.1 * len(metrics) + 0.6))
    axes = fig.subplots(len(metrics), 1, sharex=True, squeeze=False)[:, 0]
    for ax, metric in zip(axes, metrics, strict=True):
        ax.plot(rows["eps"], rows[metric], marker="o", markersize=3)
        if chosen_eps is not None:
            ax.axvline(chosen_eps, color="tab:red", linestyle="--", linewidth=1)
        ax.set_ylabel(metric, rotation=0, ha="right", va="center", fontsize=8)
        ax.yaxis.set_major_locator(MaxNLocator(2))
        ax.tick_params(labelsize=7)
    axes[-1].set_xlabel("eps")
    fig.suptitle(f"{group}: metrics by eps" + (f" (chosen eps = {chosen_eps:g})" if chosen_eps is not None else ""))
    fig.subplots_adjust(left=0.25, right=0.97, top=0.94, bottom=0.06, hspace=0.15)
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
