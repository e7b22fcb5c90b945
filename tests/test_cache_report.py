"""The step cache's key and the report's rendering, as pure functions."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from steps.cli.mlproject import declared_parameters
from steps.cli.params import ParamError, as_text, boolean
from steps.cli.shared_params import ALPHAS, EPS
from steps.pipeline.cache import cache_key, code_version, content_hash, effective_params
from steps.pipeline.promotion import judged
from steps.pipeline.registry import Registration
from steps.pipeline.report_page import StepSummary, html_page, markdown


def test_params_compare_by_value_not_by_spelling():
    spelled = ["0.5", "0.50", "[0.5]", " 0.5 "]
    assert {as_text(EPS.parse("eps", text)) for text in spelled} == {"0.5"}
    assert as_text(ALPHAS.parse("alphas", ALPHAS.default)) == "0.05,0.1,0.5,1.0,2.0,5.0"


def test_effective_params_are_the_given_ones_and_the_declared_defaults_without_data():
    declared = declared_parameters()["cluster_islands"]
    params = effective_params(declared, {"eps": "0.5"})
    assert params["eps"] == "0.5" and params["group_by"] == "island"  # defaults filled in
    assert set(params) == set(declared) - {"data"}
    assert effective_params(declared, {"eps": "0.5,1.0"}) != params


def test_the_key_changes_with_each_input_and_only_then():
    params = effective_params(declared_parameters()["cluster_islands"], {})
    key = cache_key("cluster_islands", params, "git:abc", "d1")
    assert key == cache_key("cluster_islands", dict(reversed(params.items())), "git:abc", "d1")
    others = [
        cache_key("classify_sex", params, "git:abc", "d1"),
        cache_key("cluster_islands", {**params, "min_samples": "4"}, "git:abc", "d1"),
        cache_key("cluster_islands", params, "git:abd", "d1"),
        cache_key("cluster_islands", params, "git:abc", "d2"),
    ]
    assert key not in others and len(set(others)) == 4


def test_code_version_is_the_commit_of_a_clean_checkout_else_a_content_hash(tmp_path):
    (tmp_path / "steps").mkdir()
    (tmp_path / "MLproject").write_text("name: x\n")
    (tmp_path / "steps" / "a.py").write_text("A = 1\n")
    hashed = code_version(tmp_path)  # not a git repository
    assert hashed == f"sha256:{content_hash(tmp_path)}"
    (tmp_path / "README.md").write_text("docs do not change what a step computes\n")
    assert content_hash(tmp_path) == hashed.removeprefix("sha256:")
    (tmp_path / "steps" / "a.py").write_text("A = 2\n")
    assert code_version(tmp_path) != hashed

    def git(*args):
        return subprocess.run(["git", *args], cwd=tmp_path, capture_output=True, text=True, check=True).stdout

    git("init", "-q")
    git("add", ".")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "x")
    assert code_version(tmp_path) == f"git:{git('rev-parse', 'HEAD').strip()}"
    (tmp_path / "steps" / "a.py").write_text("A = 3\n")  # dirty again: the content decides
    assert code_version(tmp_path).startswith("sha256:")


def test_booleans_and_canonical_text():
    assert boolean("force", "TRUE") is True and boolean("force", "no") is False
    with pytest.raises(ParamError, match="force: must be true or false, got 'maybe'"):
        boolean("force", "maybe")
    assert as_text([0.5, 1.0]) == "0.5,1.0" and as_text(3) == "3" and as_text(True) == "true"


def test_the_report_shows_every_step_with_its_plots_inlined(tmp_path):
    png = tmp_path / "classify_sex" / "roc_curve.png"
    png.parent.mkdir()
    png.write_bytes(b"\x89PNG fake bytes")
    fresh = StepSummary(
        entry_point="classify_sex",
        run_id="a" * 32,
        state="fresh",
        link="http://h/#/experiments/1/runs/" + "a" * 32,
        metrics={"eval_acc": 0.92537},
        models={"model": "models:/m-1"},
        plots=[Path("classify_sex/roc_curve.png")],
    )
    reused = StepSummary(
        entry_point="cluster_islands",
        run_id="b" * 32,
        state="reused",
        link="runs:/" + "b" * 32,
        metrics={},
        models={},
        table=[{"group": "Biscoe", "best eps": "0.5"}],
        registered=[
            Registration("penguins-dbscan-island-Biscoe", "2", "1", judged("s_dbw", False, 0.41, 0.52, 168)).row()
        ],
    )
    summaries = [fresh, reused]
    page = markdown("title", summaries)
    assert "| classify_sex | fresh | [aaaaaaaa](http://h/#/experiments/1/runs/" in page
    assert "eval_acc 0.9254" in page and "`models:/m-1`" in page
    assert "![roc_curve](classify_sex/roc_curve.png)" in page
    assert "| Biscoe | 0.5 |" in page and "### Champion and challenger" in page
    assert "| penguins-dbscan-island-Biscoe | v1 | v2 | s_dbw | 0.41 | 0.52 | 168 | kept: worse |" in page
    html = html_page("title <&>", summaries, tmp_path)
    assert "title &lt;&amp;&gt;" in html
    assert "data:image/png;base64,iVBORyBmYWtlIGJ5dGVz" in html
    assert "<td class='reused'>reused</td>" in html
