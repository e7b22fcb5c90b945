"""Figures for the steps' artifacts: data in, matplotlib figure out. No MLflow here."""

from __future__ import annotations

import bisect
import functools

import matplotlib

matplotlib.use("Agg")  # headless: steps run on servers and clusters

import numpy as np
import pandas as pd
from matplotlib import pyplot as plt
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties
from matplotlib.textpath import text_to_path

# The bare figures below have a fixed layout (no tight or constrained layout: that draws them twice), so they
# measure their text to size their margins and wrap their titles: all their text stays inside the figure.
EDGE = 0.08  # inches between text and the figure's edge
LINE = 1.2  # matplotlib's line spacing, in font sizes


def close(figure: Figure) -> None:
    """Release a figure once it is logged (pyplot keeps every figure it made)."""
    plt.close(figure)


@functools.lru_cache(maxsize=4096)  # measuring is slow (glyphs loaded at 100 points), titles re-measure words
def _width(text: str, size: float, weight: str = "normal") -> float:
    """The width in inches of one line of text as the default font draws it at `size` points (without drawing)."""
    prop = FontProperties(size=size, weight=weight)
    return text_to_path.get_text_width_height_descent(text, prop, ismath=False)[0] / 72


def _height(lines: int, size: float) -> float:
    """The height in inches of `lines` lines of text at `size` points."""
    return lines * LINE * size / 72


def _lines(text: str, width: float, size: float) -> list[str]:
    """`text` in lines at most `width` inches wide at `size` points, each as full as it can be: broken at spaces,
    a word too long for a line broken inside it. A line's width: its words' and its spaces'."""
    space = _width("a a", size) - _width("aa", size)
    lines, line, used = [], "", 0.0
    for word in text.split(" "):
        needs = _width(word, size)
        if line and used + space + needs <= width:
            line, used = f"{line} {word}", used + space + needs
            continue
        if line:
            lines.append(line)
        while len(word) > 1 and needs > width:
            fits = max(bisect.bisect_right(range(1, len(word)), width, key=lambda n: _width(word[:n], size)), 1)
            lines.append(word[:fits])
            word = word[fits:]
            needs = _width(word, size)
        line, used = word, needs
    return [*lines, line]


def _wrapped(text: str, width: float, size: float, max_lines: int = 3) -> str:
    """`text` in lines at most `width` inches wide at `size` points; beyond `max_lines` lines cut, the last
    ending in an ellipsis."""
    lines = _lines(text, width, size)
    if len(lines) > max_lines:
        lines = lines[:max_lines]
        while len(lines[-1]) > 1 and _width(lines[-1] + "…", size) > width:
            lines[-1] = lines[-1][:-1]
        lines[-1] += "…"
    return "\n".join(lines)


def _shortened(text: str, length: int) -> str:
    """`text` in at most `length` characters, its middle elided: names that differ at their end stay apart."""
    if len(text) <= length:
        return text
    head = (length - 1) // 2
    return f"{text[:head]}…{text[len(text) - (length - 1 - head) :]}"


def _fitted_title(title: str, size: float, width: float, left: float, right: float) -> str:
    """`title` wrapped so that, centred over axes with these margins (inches) in a figure `width` inches wide, it
    stays inside the figure."""
    centre = left + (width - left - right) / 2
    return _wrapped(title, 2 * (min(centre, width - centre) - EDGE), size)


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
    eps marked. On the right: each metric's value at the chosen eps and, beneath it, its range.

    Undefined values are gaps in the curve, not zeros. Like clusters_figure, drawn for every
    group of a sweep, in its tasks: a bare Figure (no pyplot, which is not thread-safe), one
    axes and a fixed layout, as axes, ticks and text are most of a figure's cost. The margins
    are sized to the metrics' names and values, and the title wrapped, so any of them fits.
    """
    eps = rows["eps"].to_numpy(dtype="float64")
    at_chosen = eps == chosen_eps
    curves, labels = [], []  # labels: (value at the chosen eps or None, range)
    for metric in metrics:
        values = rows[metric].to_numpy(dtype="float64")
        low, high = np.nanmin(values, initial=np.inf), np.nanmax(values, initial=-np.inf)
        curves.append(0.8 * (values - low) / ((high - low) or 1.0))
        chosen_value = values[at_chosen][0] if at_chosen.any() else np.nan
        if not np.isfinite(low):
            labels.append((None, "undefined"))
        elif chosen_eps is None:
            labels.append((None, f"({low:.3g} to {high:.3g})"))
        else:
            labels.append(
                ("undefined" if np.isnan(chosen_value) else f"{chosen_value:.3g}", f"({low:.3g} to {high:.3g})")
            )
    header = f"at eps {chosen_eps:g} (range)" if chosen_eps is not None else "(range)"
    chosen = f"chosen eps = {chosen_eps:g}" if chosen_eps is not None else "no eps chosen"
    column = max([_width(header, 7, "bold"), *(_width(text, 7) for pair in labels for text in pair if text)])
    width, gap = 7.0, 0.06  # gap: between the axes and the values beside them
    left, right = max(_width(metric, 8) for metric in metrics) + 0.2, gap + column + EDGE
    title = _fitted_title(f"{group}: metrics by eps, each scaled to its range ({chosen})", 10, width, left, right)
    title_height = _height(title.count("\n") + 1, 10)
    height = 0.45 * len(metrics) + 1.03 + title_height
    fig = Figure(figsize=(width, height))
    ax = fig.subplots()
    fig.subplots_adjust(
        left=left / width, right=1 - right / width, top=1 - (0.27 + title_height) / height, bottom=0.5 / height
    )
    beside = {"x": 1 + gap / (width - left - right), "transform": ax.get_yaxis_transform(), "fontsize": 7}
    bands = range(len(metrics) - 1, -1, -1)  # the first metric on top
    for band, curve, (value, spread) in zip(bands, curves, labels, strict=True):
        ax.plot(eps, band + curve, marker="o", markersize=3, color="tab:blue")
        if value is None:
            ax.text(y=band + 0.4, s=spread, va="center", **beside)
        else:
            ax.text(y=band + 0.4, s=value, va="bottom", **beside)
            ax.text(y=band + 0.4, s=spread, va="top", color="0.35", **beside)
    ax.set_yticks([band + 0.4 for band in bands], metrics, fontsize=8)
    ax.tick_params(axis="y", length=0)
    ax.tick_params(axis="x", labelsize=7)
    ax.set_ylim(-0.2, len(metrics))
    ax.set_xlabel("eps")
    if chosen_eps is not None:
        ax.axvline(chosen_eps, color="tab:red", linestyle="--", linewidth=1)
    ax.text(y=len(metrics) - 0.05, s=header, va="top", weight="bold", **beside)
    ax.set_title(title, fontsize=10, parse_math=False)
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
    width, left, right = 6.0, 0.72, 0.18
    title = _fitted_title(title, 10, width, left, right)
    extra = _height(title.count("\n"), 10)  # the title's lines after its first, room added above the axes
    fig = Figure(figsize=(width, 5 + extra))
    ax = fig.subplots()
    noise = labels == -1
    ax.scatter(points[noise, 0], points[noise, 1], marker="x", color="0.6", label="noise")
    colours = colormaps["tab10"]
    clusters = sorted(set(labels[~noise]))
    for position, cluster in enumerate(clusters):
        member = labels == cluster
        label = f"cluster {cluster}" if position < colours.N else "_nolegend_"  # the legend: one entry a colour
        ax.scatter(points[member, 0], points[member, 1], s=18, color=colours(position % colours.N), label=label)
    ax.set_xlabel(axes[0])
    ax.set_ylabel(axes[1])
    ax.set_title(title, fontsize=10, parse_math=False)
    repeat = f"{len(clusters)} clusters, colours repeat" if len(clusters) > colours.N else None
    ax.legend(fontsize=8, loc="best", title=repeat, title_fontsize=8)
    fig.subplots_adjust(
        left=left / width, right=1 - right / width, top=1 - (0.4 + extra) / (5 + extra), bottom=0.5 / (5 + extra)
    )
    return fig


GROUPS_SHOWN = 30  # groups in an answers figure: the ones with the most rows


def answers_figure(title: str, table: pd.DataFrame, key: str) -> Figure:
    """How a table was scored, from `score`'s answer table: per group (the 30 with the most rows) its rows
    clustered, noise and unscored, for the router (columns group, `key`, rows); else rows per label, or per bin
    of the prediction (columns from, to, rows), unscored rows (an empty answer) apart. The margins grow to fit
    the labels (long group names shortened in their middle) and the title is wrapped."""
    width, left, right, bottom, top = 7.0, 1.4, 0.21, 0.75, 0.4  # inches
    fig = Figure(figsize=(width, 5))
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
        left_edge = np.zeros(len(shown))
        for name, colour in (("clustered", "tab:blue"), ("noise", "0.6"), ("unscored", "tab:red")):
            ax.barh(range(len(shown)), shown[name], left=left_edge, color=colour, label=name)
            left_edge += shown[name].to_numpy()
        names = [_shortened(str(g), 24) for g in shown.index]
        ax.set_yticks(range(len(shown)), names, fontsize=7, parse_math=False)
        left = max([left, *(_width(name, 7) + 0.15 + EDGE for name in names)])
        ax.set_xlabel("rows")
        ax.legend(fontsize=8, loc="lower right")
        title += f" ({len(shown)} of {len(shares)} groups, the most rows first)" if len(shares) > len(shown) else ""
    elif key in table:
        labels = [("unscored" if pd.isna(v) else str(v))[:20] for v in table[key]]
        ax.bar(range(len(table)), table["rows"], color=["tab:red" if u else "tab:blue" for u in unscored_key])
        ax.set_xticks(range(len(table)), labels, fontsize=8, rotation=30, ha="right", parse_math=False)
        ax.set_ylabel("rows")
        # a label turned 30 degrees: sin 30 of its width below the axis, cos 30 (the first) to the left
        spans = [(_width(label, 8), _height(1, 8)) for label in labels]
        bottom = max([bottom, *(w / 2 + 0.87 * h + 0.1 + EDGE for w, h in spans)])
        left = max([left, *(0.87 * w + h / 2 + EDGE for w, h in spans[:1])])
    else:
        binned = table[~unscored_key]
        ax.bar(binned["from"], binned["rows"], width=binned["to"] - binned["from"], align="edge", color="tab:blue")
        ax.set_xlabel(key)
        ax.set_ylabel("rows")
        title += f", {int(table.loc[unscored_key, 'rows'].sum())} unscored"
    title = _fitted_title(title, 10, width, left, right)
    ax.set_title(title, fontsize=10, parse_math=False)
    height = 5 + _height(title.count("\n"), 10)
    fig.set_size_inches(width, height)
    fig.subplots_adjust(
        left=left / width, right=1 - right / width, top=1 - (top + height - 5) / height, bottom=bottom / height
    )
    return fig
