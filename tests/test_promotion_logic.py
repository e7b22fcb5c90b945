"""steps.pipeline.promotion on its own: who is champion, and the line main prints."""

from __future__ import annotations

import math

import pytest

from steps.pipeline import promotion


@pytest.mark.parametrize(
    ("greater_is_better", "champion", "challenger", "promoted"),
    [
        (False, 451.2, 696.0, False),  # a worse RMSE
        (False, 451.2, 440.0, True),
        (False, 451.2, 451.2, True),  # ties promote: at least as good
        (True, 0.91, 0.90, False),  # a worse AUC
        (True, 0.91, 0.95, True),
        (True, 0.91, None, False),  # an undefined score loses to any defined one
        (True, 0.91, math.nan, False),
        (True, None, 0.5, True),
        (False, None, None, True),
    ],
)
def test_a_challenger_is_promoted_when_at_least_as_good(greater_is_better, champion, challenger, promoted):
    verdict = promotion.judged("m", greater_is_better, champion, challenger, 67)
    assert verdict.promoted is promoted and verdict.reason == ("no worse" if promoted else "worse")


def test_the_line_names_both_versions_and_both_scores():
    kept = promotion.judged("rmse", False, 451.2, 696.0, 67)
    assert kept.line("penguins-tune-body-mass", "1", "2") == (
        "penguins-tune-body-mass: champion v1 kept: rmse 451.2 vs challenger v2 696 on 67 rows"
    )
    promoted = promotion.judged("rmse", False, 696.0, 451.2, 67)
    assert promoted.line("penguins-tune-body-mass", "2", "3") == (
        "penguins-tune-body-mass: challenger v3 promoted: rmse 451.2 vs champion v2 696 on 67 rows"
    )
    assert promotion.first_version().line("m", None, "1") == "m: challenger v1 promoted: first version"
    assert promotion.forced().line("m", "2", "3") == "m: challenger v3 promoted: register=force"
    unscorable = promotion.unscorable("champion", "missing column(s) bill_depth_mm")
    assert unscorable.line("m", "1", "2") == (
        "m: champion v1 kept: the champion cannot score this run's rows: missing column(s) bill_depth_mm"
    )


def test_a_router_must_be_no_worse_on_every_group_both_serve():
    champion = {"Biscoe": 0.40, "Dream": 0.50, "Torgersen": 0.30}
    better_everywhere = {"Biscoe": 0.40, "Dream": 0.45, "Torgersen": 0.30}
    verdict = promotion.judged_by_group("s_dbw", False, champion, better_everywhere, 342, dropped=[])
    assert verdict.promoted and verdict.reason == "no worse on each of 3 groups"
    assert verdict.champion == pytest.approx(0.40) and verdict.challenger == pytest.approx(1.15 / 3)

    better_on_average = {"Biscoe": 0.10, "Dream": 0.10, "Torgersen": 0.31}
    verdict = promotion.judged_by_group("s_dbw", False, champion, better_on_average, 342, dropped=[])
    assert not verdict.promoted and verdict.reason == "worse on 1 group: Torgersen of 3"
    assert verdict.line("penguins-clusters-island", "1", "2") == (
        "penguins-clusters-island: champion v1 kept: s_dbw 0.4 vs challenger v2 0.17 on 342 rows "
        "(worse on 1 group: Torgersen of 3)"
    )


def test_a_router_that_drops_groups_is_not_promoted_however_good():
    champion = {"Biscoe": 0.40, "Dream": 0.50}
    verdict = promotion.judged_by_group(
        "silhouette", True, champion, {"Biscoe": 0.9, "Dream": 0.9}, 292, dropped=["Torgersen"]
    )
    assert not verdict.promoted and verdict.reason == "the challenger drops 1 group: Torgersen"

    many = [f"site-{i}" for i in range(5)]
    verdict = promotion.judged_by_group("silhouette", True, champion, champion, 292, dropped=many)
    assert verdict.reason == "the challenger drops 5 groups: site-0, site-1, site-2 and 2 more"


def test_a_router_whose_groups_this_run_does_not_reach_is_not_promoted():
    verdict = promotion.judged_by_group("s_dbw", False, {}, {}, 0, dropped=[])
    assert not verdict.promoted and verdict.reason == "this run's rows reach no group both serve"
