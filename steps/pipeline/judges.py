"""How a step's champion and challenger are scored on the same rows, in the run that judges them.

Supervised models: the challenger's held-out rows (its run's HELDOUT_ROWS), scored by both. Clustering
models: this run's rows of each group, labelled by both and scored with the sweep's `select_by`.
A judge is `(champion_uri, challenger_uri, group) -> Verdict`; `group` names a group's own model.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass

import mlflow
import numpy as np
import pandas as pd

from steps.ml import body_mass, sex, species
from steps.ml.clustering import LOWER_IS_BETTER, rows_to_sweep, scores_by_group
from steps.pipeline import promotion
from steps.pipeline.promotion import Verdict
from steps.pipeline.step_runs import StepResults
from steps.tracking.models import HELDOUT_ROWS

Judge = Callable[[str, str, "str | None"], Verdict]


def roc_auc(model_uri: str, X: pd.DataFrame, y: pd.Series) -> float:
    from sklearn.metrics import roc_auc_score

    model = mlflow.sklearn.load_model(model_uri)  # probabilities: the pyfunc answers labels only
    return float(roc_auc_score(y == sex.POSITIVE, sex.positive_scores(model, X)))


def rmse(model_uri: str, X: pd.DataFrame, y: pd.Series) -> float:
    predicted = np.asarray(mlflow.pyfunc.load_model(model_uri).predict(X), dtype=float)
    return float(np.sqrt(np.mean((predicted - y.to_numpy(dtype=float)) ** 2)))


def macro_f1(model_uri: str, X: pd.DataFrame, y: pd.Series) -> float:
    from sklearn.metrics import f1_score

    predicted = mlflow.pyfunc.load_model(model_uri).predict(X)  # a Spark model: pyfunc starts a local Spark
    return float(f1_score(y, np.asarray(predicted).ravel(), average="macro"))


@dataclass(frozen=True)
class Supervised:
    metric: str
    greater_is_better: bool
    target: str
    features: tuple[str, ...]
    score: Callable[[str, pd.DataFrame, pd.Series], float]


SUPERVISED = {
    "classify_sex": Supervised("roc_auc", True, "sex", sex.FEATURES, roc_auc),
    "tune_body_mass": Supervised("rmse", False, "body_mass_g", body_mass.FEATURES, rmse),
    "classify_species": Supervised("macro_f1", True, "species", species.FEATURES, macro_f1),
}


def judge_for(step: StepResults, table) -> Judge:
    """The judge of `step`'s models; `table`: the data as the sweep read it (every column)."""
    if step.outcome.entry_point == "cluster_islands":
        return clustering_judge(step, table)
    how = SUPERVISED[step.outcome.entry_point]
    rows = functools.cache(
        lambda: pd.read_parquet(
            mlflow.artifacts.download_artifacts(run_id=step.run.info.run_id, artifact_path=HELDOUT_ROWS)
        )
    )

    def judge(champion_uri: str, challenger_uri: str, group: str | None = None) -> Verdict:
        try:
            held_out = rows()
        except Exception as error:  # a run logged before steps kept their held-out rows
            return promotion.unscorable("challenger", f"its run has no {HELDOUT_ROWS}: {first_line(error)}")
        scores = {}
        for whose, uri in (("champion", champion_uri), ("challenger", challenger_uri)):
            try:
                scores[whose] = how.score(uri, held_out.loc[:, list(how.features)], held_out[how.target])
            except Exception as error:  # any model can fail on rows it was not made for
                return promotion.unscorable(whose, first_line(error))
        return promotion.judged(
            how.metric, how.greater_is_better, scores["champion"], scores["challenger"], len(held_out)
        )

    return judge


def clustering_judge(step: StepResults, table) -> Judge:
    params = step.run.data.params
    group_by, select_by = params["group_by"], params["select_by"]
    features = [f.strip() for f in params["features"].split(",")]
    greater_is_better = not LOWER_IS_BETTER[select_by]
    rows = functools.cache(lambda: rows_to_sweep(table.frame, group_by, features))
    rows_of_group = functools.cache(lambda: rows().groupby(group_by, sort=False).indices)  # grouped once, not per model

    def labelled(model_uri: str, of: pd.DataFrame, group: str | None) -> tuple[np.ndarray, set[str] | None]:
        """Each row's cluster (-1: noise or not served) and, for the router, the groups it serves."""
        model = mlflow.pyfunc.load_model(model_uri)
        if group is not None:  # one group's scikit-learn pipeline: features in, clusters out
            return np.asarray(model.predict(of[features]), dtype=np.int64), None
        answer = model.predict(of, params={"bad_rows": "answer"})
        served = set(model.unwrap_python_model().groups)
        return answer["cluster"].fillna(-1).to_numpy(dtype=np.int64), served

    def judge(champion_uri: str, challenger_uri: str, group: str | None = None) -> Verdict:
        of = rows() if group is None else rows().iloc[rows_of_group().get(group, [])].reset_index(drop=True)
        scores, served = {}, {}
        for whose, uri in (("champion", champion_uri), ("challenger", challenger_uri)):
            try:
                labels, served[whose] = labelled(uri, of, group)
            except Exception as error:
                return promotion.unscorable(whose, first_line(error))
            scores[whose] = scores_by_group(of, group_by, features, labels, select_by)
        if group is not None:
            champion, challenger = scores["champion"].get(group), scores["challenger"].get(group)
            return promotion.judged(select_by, greater_is_better, champion, challenger, len(of))
        dropped = sorted(served["champion"] - served["challenger"])
        both = served["champion"] & served["challenger"]
        champion, challenger = ({g: s for g, s in scores[w].items() if g in both} for w in ("champion", "challenger"))
        reached = int(of[group_by].isin(both).sum())
        return promotion.judged_by_group(select_by, greater_is_better, champion, challenger, reached, dropped)

    return judge


def first_line(error: BaseException) -> str:
    text = str(error).strip()
    return (text.splitlines()[0] if text else type(error).__name__)[:300]
