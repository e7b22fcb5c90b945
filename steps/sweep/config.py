"""What the driver and the tasks of a sweep share: its configuration, the runs' identity tags, the results table."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field

from steps.ml import clustering

JOB, LEVEL, GROUP, EPS = "penguins.job_run_id", "penguins.level", "penguins.group", "penguins.eps"
# On each group run: its metrics by eps, and its rows as the chosen eps clustered them.
METRICS_FIGURE, CLUSTERS_FIGURE = "metrics_by_eps.png", "clusters.png"
# One row per group and eps. `cores`: on the group's chosen eps only, what its model labels new rows
# with (steps/ml/grouped_cores.GroupCores, as bytes), for the router; not part of the logged tables.
RESULT_TYPES = {
    "group": "string",
    "eps": "double",
    **dict.fromkeys(clustering.METRICS, "double"),
    **dict.fromkeys(("run_id", "model_uri", "group_run_id"), "string"),
    "cores": "binary",
}
RESULT_COLUMNS = tuple(RESULT_TYPES)
RESULT_SCHEMA = ", ".join(f"{name} {kind}" for name, kind in RESULT_TYPES.items())


@dataclass(frozen=True)
class SweepConfig:
    tracking_uri: str
    experiment_id: str
    job_run_id: str
    group_by: str
    features: tuple[str, ...]
    eps_values: tuple[float, ...]
    min_samples: int
    select_by: str
    pip_requirements: tuple[str, ...]
    log_models: str = "all"  # which eps runs log a model: all, best (each group's chosen eps), none
    # Test-only: make attempt 0 of every task fail after it has logged (see tests/test_cluster_islands.py):
    # "raise" an exception in the task, or "crash" its Python worker (os._exit).
    fault: str = ""
    tags: dict[str, str] = field(default_factory=dict)  # extra tags for every child run (e.g. the commit)


def eps_label(eps: float) -> str:
    return f"{eps:g}"


def run_name(group: str, eps: float) -> str:
    return f"{group}-eps{eps_label(eps)}"


def file_name(group: str) -> str:
    """A file name for `group`'s artifacts: the name itself when it is plain (`Biscoe`), else its
    plain characters and a digest that keeps it apart from every other group's."""
    plain = re.sub(r"[^A-Za-z0-9._-]", "_", group)[:60].strip(".")
    if plain and plain == group:
        return group
    return f"{plain}-{hashlib.sha256(group.encode()).hexdigest()[:10]}"
