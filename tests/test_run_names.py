"""Runs a person can find: named `cluster_islands eps=0.5`, not `bright-gull-729`; main says where to look."""

from __future__ import annotations

import pytest
from mlflow.entities import Run, RunData, RunInfo
from mlflow.utils.name_utils import _generate_random_name

from steps.cli.params import parse_params
from steps.cluster_islands import PARAMS as CLUSTER_PARAMS
from steps.pipeline.report import where_to_look
from steps.tracking.runner import DATA, RUN_NAME_LENGTH, is_generated_name, run_name
from tests.support import child_runs, mlflow_run


def named(step: str, params, argv: list[str]) -> str:
    values, texts = parse_params((DATA, *params), argv, prog=step)
    return run_name(step, (DATA, *params), values, texts)


def test_a_run_with_every_default_is_named_after_its_entry_point():
    assert named("cluster_islands", CLUSTER_PARAMS, []) == "cluster_islands"


def test_a_default_given_in_another_spelling_is_still_the_default():
    assert named(
        "cluster_islands", CLUSTER_PARAMS, ["--min-samples", " 3", "--eps", "[0.1,0.2,0.3,0.5,0.7,0.9,1.1,1.3,1.5]"]
    ) == ("cluster_islands")


def test_the_parameters_that_differ_from_their_defaults_follow_as_given():
    argv = ["--eps", "0.5", "--group-by", "species", "--data", "/data/many/penguins.csv"]
    assert (
        named("cluster_islands", CLUSTER_PARAMS, argv) == "cluster_islands data=penguins.csv eps=0.5 group_by=species"
    )


def test_a_long_name_is_cut_to_what_the_run_list_shows():
    name = named("cluster_islands", CLUSTER_PARAMS, ["--eps", ",".join(f"0.{i:03d}" for i in range(1, 200))])
    assert len(name) == RUN_NAME_LENGTH and name.startswith("cluster_islands eps=0.001,0.002") and name.endswith("…")


def test_names_mlflow_makes_up_are_told_from_names_users_give():
    # Guards the private MLflow word lists is_generated_name reads: if they move, this fails.
    assert all(is_generated_name(_generate_random_name()) for _ in range(500))


@pytest.mark.parametrize("name", ["main", "cluster_islands eps=0.5", "my-baseline-1", "nightly", "bright-gull"])
def test_a_users_name_is_not_taken_for_a_made_up_one(name):
    assert not is_generated_name(name)


@pytest.mark.e2e
def test_the_run_mlflow_run_creates_is_named_for_what_it_is_unless_the_user_named_it(tracking_uri, experiment):
    named = mlflow_run("tune_body_mass", experiment, tracking_uri, alphas="0.1,1")
    assert named.returncode == 0, named.stderr[-3000:]
    assert named.run().info.run_name == "tune_body_mass alphas=0.1,1"
    assert sorted(r.info.run_name for r in child_runs(named.run())) == ["alpha=0.1", "alpha=1"]
    mine = mlflow_run("tune_body_mass", experiment, tracking_uri, run_name="my baseline", alphas="0.1,1")
    assert mine.returncode == 0, mine.stderr[-3000:]
    assert mine.run().info.run_name == "my baseline"


def a_finished_run(artifact_uri: str) -> Run:
    info = RunInfo("0123abcd", "7", "me", "FINISHED", 0, 1, "active", artifact_uri=artifact_uri)
    return Run(info, RunData())


def test_main_says_where_its_report_is_and_how_to_open_a_local_store(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert where_to_look(a_finished_run(f"{tmp_path}/mlruns/7/0123abcd/artifacts"), "sqlite:///mlflow.db") == [
        f"main: report: {tmp_path}/mlruns/7/0123abcd/artifacts/report/report.html",
        f"main: open the runs: mlflow ui --backend-store-uri sqlite:///{tmp_path}/mlflow.db",
        "main: then browse to http://127.0.0.1:5000/#/experiments/7/runs/0123abcd",
    ]


def test_main_links_the_run_on_a_tracking_server():
    run = a_finished_run("mlflow-artifacts:/7/0123abcd/artifacts")
    assert where_to_look(run, "https://mlflow.example.org/") == [
        "main: report: mlflow-artifacts:/7/0123abcd/artifacts/report/report.html",
        "main: open the run: https://mlflow.example.org/#/experiments/7/runs/0123abcd",
    ]
