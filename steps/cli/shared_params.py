"""The step parameters `main` exposes and passes on, each defined once.

The steps that take one import it from here, and so does `main`, which thereby never
imports a step module and its libraries. `spark_master` lives with the rest of the Spark
policy, in steps/spark/session.py.
"""

from __future__ import annotations

from steps.cli.params import Param, choice, column_name, integer, number_list
from steps.ml.clustering import DEFAULT_EPS, QUALITY

SEED = Param("seed", "42", integer(), "random seed of the train/test split (and of the solver, where it has one)")
ALPHAS = Param("alphas", "0.05,0.1,0.5,1,2,5", number_list(0, low_open=False), "Ridge alphas to try")
EPS = Param("eps", ",".join(f"{e:g}" for e in DEFAULT_EPS), number_list(0), "DBSCAN eps values, each > 0")
MIN_SAMPLES = Param("min_samples", "3", integer(1), "DBSCAN min_samples")
GROUP_BY = Param(
    "group_by", "island", column_name, "the column (text or whole numbers) whose groups are clustered apart"
)
LOG_MODELS = Param(
    "log_models",
    "all",
    choice(("all", "best", "none")),
    "which eps runs log a model: all, best (each group's chosen eps only) or none",
)
SELECT_BY = Param(
    "select_by",
    "s_dbw",
    choice(QUALITY),
    "metric that picks each group's best eps: s_dbw, davies_bouldin (lower is better), "
    "silhouette, calinski_harabasz (higher is better)",
)
