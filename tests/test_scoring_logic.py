"""Scoring a batch with any model's predict, without MLflow or Spark: the checks that keep a row from the model,
the halving that finds the rows a model fails on, and the answer's columns."""

from __future__ import annotations

import numpy as np
import pandas as pd

from steps.ml.row_checks import row_problems
from steps.ml.scoring import ModelInputs, joined, score_batch

INPUTS = ModelInputs(
    numeric=("mass",),
    text=("island",),
    answer={"prediction": "string", "reason": "string"},
    categories={"island": ["Biscoe", "Dream"]},
)


def test_each_row_gets_its_first_problem_in_column_order():
    frame = pd.DataFrame(
        {
            "island": ["Biscoe", None, "Atlantis", "Dream", "Dream", "NA", "Dream"],
            "mass": ["1", "x", "2", "inf", "heavy", "3", ""],
        }
    )
    assert row_problems(frame, ["mass"], ["island"], {"island": ["Biscoe", "Dream"]}).tolist() == [
        "",
        "island: missing value",
        "island: unknown value 'Atlantis'",
        "mass: infinite value",
        "mass: not a number",
        "island: missing value",
        "mass: missing value",
    ]
    numbers = pd.DataFrame({"mass": [1.0, np.nan, -np.inf]})
    assert row_problems(numbers, ["mass"]).tolist() == ["", "mass: missing value", "mass: infinite value"]


def test_a_clean_batch_is_one_predict_call_and_keeps_every_column():
    calls = []

    def predict(rows):
        calls.append(len(rows))
        assert rows["mass"].dtype == np.float64  # numbers as numbers, whatever the table held
        return np.where(rows["mass"] > 1.5, "big", "small")

    batch = pd.DataFrame({"id": [7, 8], "island": ["Biscoe", "Dream"], "mass": ["1.0", "2.0"]})
    scored = score_batch(predict, batch, INPUTS)
    assert calls == [2]
    assert list(scored.columns) == ["id", "island", "mass", "prediction", "reason"]
    assert scored["mass"].tolist() == ["1.0", "2.0"]  # as it was read
    assert scored["prediction"].tolist() == ["small", "big"] and scored["reason"].tolist() == ["", ""]


def test_rows_a_model_fails_on_are_found_by_halving_and_keep_its_error():
    def predict(rows):
        if (rows["mass"] == 13).any():
            raise ValueError("thirteen is unlucky\nand a second line")
        return rows["mass"].astype(str).to_numpy()

    batch = pd.DataFrame({"island": ["Dream"] * 40, "mass": np.arange(40.0)})
    batch.loc[5, "island"] = "Atlantis"
    scored = score_batch(predict, batch, INPUTS)
    assert scored.loc[13, "reason"] == "thirteen is unlucky" and scored.loc[13, "prediction"] is None
    assert scored.loc[5, "reason"] == "island: unknown value 'Atlantis'" and scored.loc[5, "prediction"] is None
    fine = ~scored.index.isin([5, 13])
    assert scored.loc[fine, "prediction"].tolist() == [str(float(m)) for m in batch.loc[fine, "mass"]]
    assert (scored.loc[fine, "reason"] == "").all()


def test_a_model_with_several_outputs_answers_in_its_own_columns_with_empty_ones_where_it_has_none():
    inputs = ModelInputs(
        numeric=("x",),
        text=("g",),
        answer={"group": "string", "eps": "double", "cluster": "long", "reason": "string"},
        params={"bad_rows": "answer"},
    )

    def predict(rows, params):
        assert params == {"bad_rows": "answer"}
        return pd.DataFrame({"group": rows["g"], "eps": 0.5, "cluster": [1] * len(rows), "reason": ""})

    scored = score_batch(predict, pd.DataFrame({"g": ["a", "b"], "x": [1.0, None]}), inputs)
    assert scored["cluster"].dtype == "Int64" and scored["cluster"].tolist() == [1, pd.NA]
    assert scored["reason"].tolist() == ["", "x: missing value"] and np.isnan(scored.loc[1, "eps"])
    assert inputs.key == "cluster" and INPUTS.key == "prediction"


def test_batches_are_joined_in_order_into_frames_of_at_least_the_rows_asked():
    batches = [pd.DataFrame({"x": range(start, start + 3)}) for start in range(0, 30, 3)]
    frames = list(joined(batches, 7))
    assert [len(f) for f in frames] == [9, 9, 9, 3]
    assert pd.concat(frames)["x"].tolist() == list(range(30))
    assert [len(f) for f in joined(batches, 1)] == [3] * 10
