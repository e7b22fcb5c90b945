"""Champion or challenger: whether a new model version takes the alias `champion`. Numbers in, a verdict out.

Both models are scored on the same rows in the same run; the challenger is promoted when it is
at least as good (ties promote). A model judged group by group (the clustering router) must be
no worse on every group both serve, and must serve every group the champion serves.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

SHOWN_GROUPS = 3  # groups named in a verdict's reason


@dataclass(frozen=True)
class Verdict:
    promoted: bool
    reason: str  # why, in words a person reads: "first version", "no worse", "worse", "drops 2 groups: ..."
    metric: str = ""  # what both were scored with, "" when they were not compared
    champion: float | None = None  # the champion's score on the rows (for a router: the mean over the groups)
    challenger: float | None = None
    rows: int = 0

    def line(self, name: str, champion_version: str | None, challenger_version: str) -> str:
        """What main prints: `penguins-tune-body-mass: champion v1 kept: rmse 451.2 vs challenger v2 696 on 67 rows`."""
        if champion_version is None:
            return f"{name}: challenger v{challenger_version} promoted: {self.reason}"
        if self.promoted:
            head = f"{name}: challenger v{challenger_version} promoted"
            scores = f"{self.metric} {shown(self.challenger)} vs champion v{champion_version} {shown(self.champion)}"
        else:
            head = f"{name}: champion v{champion_version} kept"
            scores = (
                f"{self.metric} {shown(self.champion)} vs challenger v{challenger_version} {shown(self.challenger)}"
            )
        if not self.metric:
            return f"{head}: {self.reason}"
        detail = "" if self.reason in ("no worse", "worse") else f" ({self.reason})"
        return f"{head}: {scores} on {self.rows} rows{detail}"


def shown(score: float | None) -> str:
    return "undefined" if score is None else f"{score:.4g}"


def at_least_as_good(challenger: float | None, champion: float | None, greater_is_better: bool) -> bool:
    """Whether `challenger` is no worse; an undefined score (None or NaN) is worse than any defined one."""
    if not defined(champion):
        return True
    if not defined(challenger):
        return False
    return challenger >= champion if greater_is_better else challenger <= champion


def defined(score: float | None) -> bool:
    return score is not None and math.isfinite(score)


def first_version() -> Verdict:
    return Verdict(True, "first version")


def forced() -> Verdict:
    return Verdict(True, "register=force")


def unscorable(whose: str, problem: str) -> Verdict:
    """Not promoted: one of the models could not score this run's rows (`whose`: champion or challenger)."""
    return Verdict(False, f"the {whose} cannot score this run's rows: {problem}")


def judged(
    metric: str, greater_is_better: bool, champion: float | None, challenger: float | None, rows: int
) -> Verdict:
    """Challenger against champion on the same `rows`."""
    promoted = at_least_as_good(challenger, champion, greater_is_better)
    return Verdict(promoted, "no worse" if promoted else "worse", metric, champion, challenger, rows)


def judged_by_group(
    metric: str,
    greater_is_better: bool,
    champion: Mapping[str, float | None],
    challenger: Mapping[str, float | None],
    rows: int,
    dropped: list[str],
) -> Verdict:
    """A model that serves many groups, each group's score by both models (over the groups both serve and
    this run's rows reach); `dropped`: groups the champion serves and the challenger does not."""
    both = sorted(set(champion) & set(challenger))
    means = mean_of([champion[g] for g in both]), mean_of([challenger[g] for g in both])
    if dropped:
        return Verdict(False, f"the challenger drops {groups_named(dropped)}", metric, *means, rows)
    if not both:
        return Verdict(False, "this run's rows reach no group both serve", metric, None, None, rows)
    worse = [g for g in both if not at_least_as_good(challenger[g], champion[g], greater_is_better)]
    if worse:
        return Verdict(False, f"worse on {groups_named(worse)} of {len(both)}", metric, *means, rows)
    return Verdict(True, f"no worse on each of {len(both)} groups", metric, *means, rows)


def mean_of(scores: list[float | None]) -> float | None:
    values = [s for s in scores if defined(s)]
    return sum(values) / len(values) if values else None


def groups_named(groups: list[str]) -> str:
    """`2 groups: Dream, Torgersen`; past SHOWN_GROUPS, `and N more`."""
    named = ", ".join(groups[:SHOWN_GROUPS]) + (
        f" and {len(groups) - SHOWN_GROUPS} more" if len(groups) > SHOWN_GROUPS else ""
    )
    return f"{len(groups)} group{'s' if len(groups) != 1 else ''}: {named}"
