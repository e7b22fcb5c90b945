"""Run names a person can find in the UI: `cluster_islands eps=0.5`, not `bright-gull-729`."""

from __future__ import annotations

import pytest
from mlflow.utils.name_utils import _generate_random_name

from steps.cli.params import parse_params
from steps.cluster_islands import PARAMS as CLUSTER_PARAMS
from steps.tracking.runner import DATA, RUN_NAME_LENGTH, is_generated_name, run_name


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
