"""What the driver and the tasks of a sweep share: its configuration, the runs' identity tags, the results table."""

from __future__ import annotations

from dataclasses import dataclass, field

from steps.ml import clustering

JOB, LEVEL, GROUP, EPS = "penguins.job_run_id", "penguins.level", "penguins.group", "penguins.eps"
CLUSTERS_FIGURE = "clusters.png"  # on each group run: its rows as the chosen eps clustered them
RESULT_COLUMNS = ("group", "eps", *clustering.METRICS, "run_id", "model_uri", "group_run_id")
RESULT_SCHEMA = ", ".join(
    f"{name} {'string' if name in ('group', 'run_id', 'model_uri', 'group_run_id') else 'double'}"
    for name in RESULT_COLUMNS
)


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
    # Test-only: make attempt 0 of every task fail after it has logged (see tests/test_cluster_islands.py):
    # "raise" an exception in the task, or "crash" its Python worker (os._exit).
    fault: str = ""
    tags: dict[str, str] = field(default_factory=dict)  # extra tags for every child run (e.g. the commit)


def eps_label(eps: float) -> str:
    return f"{eps:g}"


def run_name(group: str, eps: float) -> str:
    return f"{group}-eps{eps_label(eps)}"
