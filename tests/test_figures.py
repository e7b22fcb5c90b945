"""steps.ml.plots on its own: every figure the steps log keeps all its text inside the canvas, with realistic
values (the penguins) and with hard ones (a 400-site sweep's numbers, long group names, many groups and
clusters, the largest and smallest values a metric takes)."""

from __future__ import annotations

import functools

import matplotlib.text
import numpy as np
import pandas as pd
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg

from steps.ml import clustering, plots
from steps.ml.data import load_penguins

TOLERANCE = 1.0  # pixels a text may stick out of the canvas (antialiasing, rounding)
LONG_GROUP = "Torgersen Island, north colony, transect 17b, WWW MMM sampled 2009 by the second team"
NO_SPACES = "site_" + "W" * 120  # a group name that cannot be wrapped at a space
RNG = np.random.default_rng(0)


@pytest.fixture
def drawn(monkeypatch):
    """The Text artists a draw of the canvas renders: ticks out of the axes' view are laid out, never drawn."""
    texts = set()
    draw = matplotlib.text.Text.draw

    def recording(text, renderer):
        texts.add(text)
        return draw(text, renderer)

    monkeypatch.setattr(matplotlib.text.Text, "draw", recording)
    return texts


def texts_outside(figure, drawn) -> list[str]:
    """Each drawn, visible, non-empty text of `figure` that sticks out of its canvas: the text, and by how much."""
    if not isinstance(figure.canvas, FigureCanvasAgg):  # a bare Figure: as savefig draws it, to PNG
        FigureCanvasAgg(figure)
    drawn.clear()
    figure.canvas.draw()
    renderer = figure.canvas.get_renderer()
    canvas = figure.bbox
    found = []
    for text in figure.findobj(matplotlib.text.Text):
        if not text.get_visible() or not text.get_text().strip() or text not in drawn:
            continue
        box = text.get_window_extent(renderer)
        out = {
            "left": canvas.x0 - box.x0,
            "right": box.x1 - canvas.x1,
            "bottom": canvas.y0 - box.y0,
            "top": box.y1 - canvas.y1,
        }
        sides = ", ".join(f"{px:.1f} px past the {side}" for side, px in out.items() if px > TOLERANCE)
        if sides:
            found.append(f"{text.get_text()!r}: {sides} (canvas {canvas.width:.0f}x{canvas.height:.0f} px)")
    return found


def texts(figure) -> list[str]:
    return [t.get_text() for t in figure.findobj(matplotlib.text.Text) if t.get_visible() and t.get_text()]


# --- the figures' inputs, realistic then hard ----------------------------------------------------------------


@functools.cache
def biscoe():
    """The default sweep on Biscoe, as a sweep task draws it: its metrics table, the chosen eps, the group's
    features and their labels at the chosen eps."""
    frame = load_penguins().frame
    rows = frame[frame["island"] == "Biscoe"]
    results = clustering.sweep(rows, clustering.FEATURES, list(clustering.DEFAULT_EPS), 3)
    chosen = clustering.chosen_eps(results, "silhouette")
    labels = next(r for r in results if r.eps == chosen).model.named_steps["dbscan"].labels_
    return clustering.metrics_table(results), chosen, rows.loc[:, list(clustering.FEATURES)], labels


def sweep_of_400_sites() -> pd.DataFrame:
    """Metrics as a 400-site sweep gives them: calinski_harabasz in the thousands (1.29e+03 at the chosen eps
    1.3, between 1.25e+03 and 1.29e+03), clustered records in the hundreds of thousands."""
    eps = [0.05, 0.1, 0.15, 0.2, 0.3, 0.5, 0.7, 0.9, 1.1, 1.3, 1.5, 2.0]
    table = pd.DataFrame(
        {
            "eps": eps,
            "s_dbw": np.linspace(0.21, 0.93, 12),
            "davies_bouldin": np.linspace(0.48, 3.1, 12),
            "silhouette": np.linspace(-0.0364, 0.61, 12),
            "calinski_harabasz": np.linspace(1250.0, 1291.0, 12),
            "n_clusters": np.linspace(1, 400, 12).round(),
            "n_clustered_records": np.linspace(123456, 987654, 12).round(),
            "noise_ratio": np.linspace(0.0, 1.0, 12),
        }
    )
    table.loc[9, "calinski_harabasz"] = 1291.0  # the chosen eps: the 1.29e+03 (1.25e+03 to 1.29e+03)
    table.loc[0, ["s_dbw", "davies_bouldin", "silhouette", "calinski_harabasz"]] = np.nan  # one cluster: undefined
    return table


def sweep_of_extremes() -> pd.DataFrame:
    """Many eps values, and each metric's widest formatted values: negative, tiny, huge."""
    eps = np.round(np.geomspace(0.001234, 98.7654, 60), 6)
    values = np.geomspace(1.23e-05, 9.87e07, 60)
    table = pd.DataFrame({"eps": eps})
    for metric in clustering.METRICS:
        table[metric] = -values if metric == "silhouette" else values
    table["noise_ratio"] = np.linspace(0.000123, 0.999, 60)
    return table


def sweep_undefined() -> pd.DataFrame:
    table = pd.DataFrame({"eps": [0.3, 0.9]})
    for metric in clustering.METRICS:
        table[metric] = np.nan
    return table


def router_answers(groups: int, name) -> pd.DataFrame:
    """The router's answer table: per group, rows clustered (0), noise (-1) and unscored (missing)."""
    return pd.DataFrame(
        {
            "group": [name(i) for i in range(groups) for _ in range(3)],
            "cluster": [0.0, -1.0, np.nan] * groups,
            "rows": RNG.integers(1, 10**9, 3 * groups),
        }
    )


def figures():
    """(name, a function drawing the figure) for every figure the steps log, each with realistic and hard inputs."""
    confusion = pd.DataFrame(
        [[31, 4], [3, 29]],
        index=pd.Index(["female", "male"], name="true"),
        columns=pd.Index(["female", "male"], name="predicted"),
    )
    big_confusion = pd.DataFrame(
        [[123456789, 4], [3, 987654321]],
        index=pd.Index(["female", "male"], name="true"),
        columns=pd.Index(["female", "male"], name="predicted"),
    )
    alphas = pd.DataFrame({"alpha": [0.01, 0.1, 1.0, 10.0, 100.0, 1000.0]})
    rmse = alphas.assign(cv_rmse=[311.0, 310.5, 309.8, 312.0, 340.0, 470.0], cv_rmse_std=[21.0] * 6)
    wide_alphas = pd.DataFrame({"alpha": np.geomspace(1e-6, 1e6, 13)})
    wide_rmse = wide_alphas.assign(cv_rmse=np.geomspace(12.3, 98765.0, 13), cv_rmse_std=np.geomspace(1.0, 9876.0, 13))
    islands = ["Biscoe", "Dream", "Torgersen"]
    return [
        ("confusion", lambda: plots.confusion_figure(confusion)),
        ("confusion, counts in the hundreds of millions", lambda: plots.confusion_figure(big_confusion)),
        ("rmse_by_alpha", lambda: plots.rmse_by_alpha_figure(rmse, 1.0)),
        ("rmse_by_alpha, alphas 1e-6 to 1e6", lambda: plots.rmse_by_alpha_figure(wide_rmse, 1e-6)),
        ("sweep, Biscoe", lambda: plots.sweep_figure("Biscoe", biscoe()[0], clustering.METRICS, biscoe()[1])),
        ("sweep, 400 sites", lambda: plots.sweep_figure("site-0400", sweep_of_400_sites(), clustering.METRICS, 1.3)),
        ("sweep, long group", lambda: plots.sweep_figure(LONG_GROUP, sweep_of_400_sites(), clustering.METRICS, 0.05)),
        ("sweep, no spaces", lambda: plots.sweep_figure(NO_SPACES, sweep_of_extremes(), clustering.METRICS, 0.001234)),
        ("sweep, extremes", lambda: plots.sweep_figure("x", sweep_of_extremes(), clustering.METRICS, 0.0237346)),
        ("sweep, no eps chosen", lambda: plots.sweep_figure("Dream", sweep_undefined(), clustering.METRICS, None)),
        ("clusters, Biscoe", lambda: plots.clusters_figure(f"Biscoe: eps {biscoe()[1]:g}", *biscoe()[2:])),
        (
            "clusters, long title, 40 clusters",
            lambda: plots.clusters_figure(
                f"{LONG_GROUP}: eps 0.0237346, 40 clusters, 12% noise, calinski_harabasz 1.29e+03",
                biscoe()[2],
                RNG.integers(-1, 40, len(biscoe()[2])),
            ),
        ),
        (
            "clusters, two long feature names",
            lambda: plots.clusters_figure(
                NO_SPACES,
                biscoe()[2].iloc[:, :2].set_axis(["bill length in millimetres", "bill depth in millimetres"], axis=1),
                biscoe()[3],
            ),
        ),
        ("clusters, one feature", lambda: plots.clusters_figure("one", biscoe()[2].iloc[:, :1], biscoe()[3])),
        (
            "answers, router, 3 islands",
            lambda: plots.answers_figure(
                "models:/router@champion: 333 of 344 rows scored", router_answers(3, islands.__getitem__), "cluster"
            ),
        ),
        (
            "answers, router, 400 long groups",
            lambda: plots.answers_figure(
                "runs:/0123456789abcdef0123456789abcdef/router: 123456789012 of 123456789012 rows scored",
                router_answers(400, lambda i: f"{LONG_GROUP} {i:03d}"),
                "cluster",
            ),
        ),
        (
            "answers, router, wide names",
            lambda: plots.answers_figure("x", router_answers(30, lambda i: f"W{i:02d}" + "W" * 40), "cluster"),
        ),
        (
            "answers, labels",
            lambda: plots.answers_figure(
                "models:/sex@champion: 340 of 344 rows scored",
                pd.DataFrame({"sex": ["female", "male", None], "rows": [168, 172, 4]}),
                "sex",
            ),
        ),
        (
            "answers, long labels",
            lambda: plots.answers_figure(
                f"models:/{NO_SPACES}/12: 1 of 2 rows scored",
                pd.DataFrame({"label": ["W" * 30, "M" * 30, None], "rows": [1, 987654321, 5]}),
                "label",
            ),
        ),
        (
            "answers, bins",
            lambda: plots.answers_figure(
                "models:/body_mass@champion: 344 of 344 rows scored",
                pd.DataFrame({"from": [2700.0, 3300.0, None], "to": [3300.0, 3900.0, None], "rows": [99, 245, 0]}),
                "body_mass_g",
            ),
        ),
        (
            "answers, bins of huge values",
            lambda: plots.answers_figure(
                LONG_GROUP,
                pd.DataFrame({"from": [-1.23e15, 0.0, None], "to": [0.0, 1.23e15, None], "rows": [10**12, 5, 10**9]}),
                "prediction",
            ),
        ),
    ]


FIGURES = figures()


@pytest.mark.parametrize("draw", [draw for _, draw in FIGURES], ids=[name for name, _ in FIGURES])
def test_every_text_of_every_figure_is_inside_the_canvas(draw, drawn, request):
    figure = draw()
    try:
        outside = texts_outside(figure, drawn)
        assert drawn, "the canvas drew no text"
        assert not outside, f"{request.node.callspec.id}: text outside the canvas:\n" + "\n".join(outside)
    finally:
        plots.close(figure)


def test_the_400_site_sweep_shows_each_value_and_range_whole(drawn):
    figure = plots.sweep_figure("site-0400", sweep_of_400_sites(), clustering.METRICS, 1.3)
    try:
        shown = texts(figure)
        assert "1.29e+03" in shown and "(1.25e+03 to 1.29e+03)" in shown
        assert "8.31e+05" in shown and "(1.23e+05 to 9.88e+05)" in shown
        assert "at eps 1.3 (range)" in shown
        assert texts_outside(figure, drawn) == []
    finally:
        plots.close(figure)


def test_a_long_group_name_is_wrapped_into_the_title_whole():
    figure = plots.sweep_figure(LONG_GROUP, sweep_of_400_sites(), clustering.METRICS, 1.3)
    try:
        title = figure.axes[0].get_title()
        assert "\n" in title
        assert title.replace("\n", " ") == f"{LONG_GROUP}: metrics by eps, each scaled to its range (chosen eps = 1.3)"
    finally:
        plots.close(figure)


@pytest.mark.parametrize("group", ["US$ 5 to $10", "site $x^$ 2"])
def test_dollars_in_a_group_name_are_shown_as_they_are(group, drawn):
    figure = plots.sweep_figure(group, sweep_of_400_sites(), clustering.METRICS, 1.3)
    try:
        assert texts_outside(figure, drawn) == []  # as mathtext, the second would not draw at all
        title = figure.axes[0].title
        assert title.get_text().startswith(f"{group}: ") and not title.get_parse_math()
    finally:
        plots.close(figure)


def test_long_group_names_that_differ_at_their_end_stay_apart_in_the_answers():
    answers = router_answers(30, lambda i: f"{LONG_GROUP} {i:03d}")
    figure = plots.answers_figure("x", answers, "cluster")
    try:
        labels = [label.get_text() for label in figure.axes[0].get_yticklabels()]
        assert len(set(labels)) == 30
        assert all(len(label) <= 24 and label.endswith(tuple(f"{i:03d}" for i in range(30))) for label in labels)
    finally:
        plots.close(figure)


def test_the_clusters_legend_has_one_entry_a_colour():
    frame = load_penguins().frame.loc[:, list(clustering.FEATURES)]
    figure = plots.clusters_figure("many", frame, np.arange(len(frame)) % 40)
    try:
        legend = figure.axes[0].get_legend()
        assert [t.get_text() for t in legend.get_texts()] == ["noise", *(f"cluster {i}" for i in range(10))]
        assert legend.get_title().get_text() == "40 clusters, colours repeat"
    finally:
        plots.close(figure)
