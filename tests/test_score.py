"""`mlflow run . -e score`, end to end on the real server and real Spark: every model of the project scoring a
table as its own pyfunc (or Spark ML) does, on local Spark, a standalone cluster and Spark Connect; rows it
cannot score kept with their reason; an output that appears only when complete."""

from __future__ import annotations

import os
import signal
import time

import mlflow
import numpy as np
import pandas as pd
import pytest
from mlflow.tracking import MlflowClient

from harness.cli import fresh_experiment_name
from harness.tables import FEATURES, grouped_table
from steps.ml import body_mass, clustering, sex, species
from steps.ml.data import bundled_csv_path, load_penguins
from tests.support import mlflow_run, runs_of, start_mlflow_run, steps_of

pytestmark = [pytest.mark.e2e, pytest.mark.spark]

ROUTER_ANSWER = ["group", "eps", "cluster", "reason"]
LOCAL = {"SPARK_LOCAL_IP": "127.0.0.1"}


def score(tracking_uri: str, experiment: str, **params):
    """`mlflow run . -e score -P ...`, which must finish; (the CLI's result, the run)."""
    result = mlflow_run("score", experiment, tracking_uri, env=LOCAL, **params)
    assert result.returncode == 0, result.stderr[-4000:]
    run = result.run()
    assert run.info.status == "FINISHED"
    return result, run


def bundled_as_text() -> pd.DataFrame:
    """The bundled CSV as Spark reads it for `score`: every column as its text."""
    return pd.read_csv(bundled_csv_path(), dtype=str, keep_default_na=False)


def model_of(cold_main, step: str) -> str:
    return steps_of(cold_main[2])[step].data.tags["model_uri"]


def test_the_routers_answer_for_the_bundled_penguins_is_its_pandas_predict(cold_main, tracking_uri, tmp_path):
    router_uri = model_of(cold_main, "cluster_islands")
    experiment = fresh_experiment_name("score-router")
    output = tmp_path / "scored.parquet"
    _, run = score(tracking_uri, experiment, model=router_uri, output=str(output))

    scored = pd.read_parquet(output)
    raw = bundled_as_text()
    assert list(scored.columns) == [*raw.columns, *ROUTER_ANSWER]
    assert scored.loc[:, raw.columns].equals(raw)  # every row, its columns as they were read
    penguins = pd.read_csv(bundled_csv_path())
    complete = penguins[list(clustering.FEATURES)].notna().all(axis=1).to_numpy()
    expected = mlflow.pyfunc.load_model(router_uri).predict(penguins.loc[complete, ["island", *clustering.FEATURES]])
    assert scored.loc[complete, "cluster"].astype(int).tolist() == expected["cluster"].tolist()
    assert (
        scored.loc[complete, ["group", "eps", "reason"]]
        .reset_index(drop=True)
        .equals(expected.loc[:, ["group", "eps", "reason"]])
    )
    unscored = scored.loc[~complete]
    assert unscored["cluster"].isna().all() and set(unscored["reason"]) == {"bill_length_mm: missing value"}

    metrics = run.data.metrics
    assert {k: metrics[k] for k in ("rows_in", "rows_scored", "rows_unscored")} == {
        "rows_in": 344,
        "rows_scored": 342,
        "rows_unscored": 2,
    }
    assert metrics["rows_per_s"] > 0
    assert run.data.params["model"] == router_uri and run.data.params["output"] == str(output)
    assert run.data.tags["score.model_id"] == router_uri.removeprefix("models:/")
    assert run.info.run_name == f"score model={router_uri} output=scored.parquet"
    (dataset,) = run.inputs.dataset_inputs
    assert dataset.dataset.name == "penguins" and dataset.dataset.digest
    assert {t.key: t.value for t in dataset.tags}["mlflow.data.context"] == "scoring"
    names = {f.path for f in MlflowClient().list_artifacts(run.info.run_id)}
    assert names == {"answers.json", "answers.png"}
    answers = pd.DataFrame(**mlflow.artifacts.load_dict(f"runs:/{run.info.run_id}/answers.json"))
    assert answers["rows"].sum() == 344 and set(answers["group"].dropna()) == {"Biscoe", "Dream", "Torgersen"}

    # Written once: the same output again is refused, unless overwrite=true.
    before = sorted(p.name for p in output.iterdir())
    refused = mlflow_run("score", experiment, tracking_uri, env=LOCAL, model=router_uri, output=str(output))
    assert refused.returncode != 0
    assert refused.error_lines == [f"error: output: '{output}' exists; give -P overwrite=true to replace it"]
    assert refused.run().info.status == "FAILED" and sorted(p.name for p in output.iterdir()) == before
    score(tracking_uri, experiment, model=router_uri, output=str(output), overwrite="true")
    assert sorted(p.name for p in output.iterdir()) != before  # Spark's part files are named anew
    assert pd.read_parquet(output).equals(scored)
    assert [p.name for p in tmp_path.iterdir()] == ["scored.parquet"]  # nothing left beside it


def test_a_200_group_table_from_a_registry_alias_is_scored_as_the_router_labels_it(
    sweep_of_200_groups, tracking_uri, tmp_path
):
    job, table = sweep_of_200_groups
    name = fresh_experiment_name("penguins-clusters-site")
    version = mlflow.register_model(job.data.tags["model_uri"], name).version
    MlflowClient().set_registered_model_alias(name, "champion", version)
    rows = table.sample(frac=1, random_state=2).reset_index(drop=True)  # the groups in no order
    rows.insert(0, "row", range(len(rows)))
    rows.to_parquet(tmp_path / "sites.parquet")
    output = tmp_path / "scored.csv"
    experiment = fresh_experiment_name("score-200")
    _, run = score(
        tracking_uri,
        experiment,
        model=f"models:/{name}@champion",
        data=str(tmp_path / "sites.parquet"),
        output=str(output),
    )

    assert {p.suffix for p in output.iterdir() if not p.name.startswith((".", "_"))} == {".csv"}
    scored = pd.concat(pd.read_csv(p) for p in sorted(output.glob("*.csv"))).sort_values("row").reset_index(drop=True)
    assert np.allclose(scored.loc[:, list(FEATURES)], rows.loc[:, list(FEATURES)])
    expected = mlflow.pyfunc.load_model(f"models:/{name}/{version}").predict(rows.loc[:, ["site", *FEATURES]])
    assert scored["cluster"].tolist() == expected["cluster"].tolist()
    assert scored["group"].tolist() == expected["group"].tolist()
    assert np.allclose(scored["eps"], expected["eps"], equal_nan=True)
    tags = run.data.tags
    assert (tags["score.registered_model"], tags["score.registered_version"]) == (name, str(version))
    assert tags["score.model_pinned"] == f"models:/{name}/{version}"
    assert run.data.metrics["rows_unscored"] == 0 and run.data.metrics["rows_in"] == len(rows)


SUPERVISED = {
    "classify_sex": sex.FEATURES,
    "tune_body_mass": body_mass.FEATURES,
    "classify_species": species.FEATURES,
}


@pytest.mark.parametrize("step", sorted(SUPERVISED))
def test_each_supervised_model_scores_the_penguins_as_its_own_predict(step, cold_main, tracking_uri, tmp_path):
    model_uri = model_of(cold_main, step)
    model_id = mlflow.models.get_model_info(model_uri).model_id  # None: mlflow.spark logs a run's artifacts
    run_id = steps_of(cold_main[2])[step].info.run_id
    given = f"runs:/{run_id}/{MlflowClient().get_logged_model(model_id).name}" if model_id else model_uri
    output = tmp_path / "scored.parquet"
    _, run = score(tracking_uri, fresh_experiment_name(f"score-{step}"), model=given, output=str(output))

    scored = pd.read_parquet(output)
    raw = bundled_as_text()
    assert list(scored.columns) == [*raw.columns, "prediction", "reason"]
    assert scored.loc[:, raw.columns].equals(raw)  # every row, in its order, its columns as they were read
    penguins = pd.read_csv(bundled_csv_path())
    features = list(SUPERVISED[step])
    complete = penguins[features].notna().all(axis=1).to_numpy()
    expected = mlflow.pyfunc.load_model(model_uri).predict(penguins.loc[complete, features])
    predicted = scored.loc[complete, "prediction"]
    if step == "tune_body_mass":
        assert np.allclose(predicted.astype(float), np.asarray(expected, dtype=float))
    else:
        assert predicted.tolist() == list(expected)
    assert scored.loc[~complete, "prediction"].isna().all() and (scored.loc[~complete, "reason"] != "").all()
    assert run.data.metrics["rows_scored"] == complete.sum() and run.data.tags.get("score.model_id") == model_id


def scored_on(masters: dict[str, str], model_uri: str, tracking_uri: str, tmp_path) -> dict[str, pd.DataFrame]:
    """The bundled penguins scored by `model_uri` on each Spark master: where -> its output."""
    answers = {}
    for where, master in masters.items():
        output = tmp_path / f"{where}.parquet"
        experiment = fresh_experiment_name(f"score-{where}")
        score(tracking_uri, experiment, model=model_uri, output=str(output), spark_master=master)
        answers[where] = pd.read_parquet(output)
    return answers


@pytest.mark.slow
def test_the_species_model_on_the_standalone_cluster_answers_as_on_local_spark(
    cold_main, tracking_uri, spark_cluster, tmp_path
):
    masters = {"local": "local[2]", "cluster": spark_cluster.master_url}
    answers = scored_on(masters, model_of(cold_main, "classify_species"), tracking_uri, tmp_path)
    assert answers["cluster"].equals(answers["local"])
    assert spark_cluster.executor_dirs("score")  # the rows were scored in the cluster's executors


@pytest.mark.slow
def test_over_spark_connect_the_router_answers_as_on_local_spark(cold_main, tracking_uri, spark_connect, tmp_path):
    masters = {"local": "local[2]", "connect": spark_connect}
    answers = scored_on(masters, model_of(cold_main, "cluster_islands"), tracking_uri, tmp_path)
    assert answers["connect"].equals(answers["local"])


def test_rows_that_cannot_be_scored_are_kept_with_their_reason(cold_main, tracking_uri, tmp_path):
    router_uri = model_of(cold_main, "cluster_islands")
    good = ["Biscoe", "48.7", "14.1", "210", "4450"]
    rows = [
        good,
        ["Atlantis", "48.7", "14.1", "210", "4450"],
        ["Dream", "NA", "14.1", "210", "4450"],
        ["Dream", "38.9", "inf", "190", "3600"],
        ["Dream", "38.9", "18.8", "tall", "3600"],
        ["", "38.9", "18.8", "190", "3600"],
        good,
    ]
    pd.DataFrame(rows, columns=["island", *clustering.FEATURES]).to_csv(tmp_path / "new.csv", index=False)
    output = tmp_path / "scored.parquet"
    _, run = score(
        tracking_uri,
        fresh_experiment_name("score-bad-rows"),
        model=router_uri,
        data=str(tmp_path / "new.csv"),
        output=str(output),
    )
    scored = pd.read_parquet(output)
    assert scored["reason"].tolist()[1:6] == [
        "island: unknown group",
        "bill_length_mm: missing value",
        "bill_depth_mm: infinite value",
        "flipper_length_mm: not a number",
        "island: missing value",
    ]
    assert scored["cluster"].isna().tolist() == [False, True, True, True, True, True, False]
    assert scored.loc[0, "cluster"] == scored.loc[6, "cluster"] and scored.loc[0, "reason"] == ""
    metrics = run.data.metrics
    assert (metrics["rows_in"], metrics["rows_scored"], metrics["rows_unscored"]) == (7, 2, 5)


@pytest.mark.parametrize(
    ("params", "error"),
    [
        ({"data": "/no/such/new.parquet"}, "error: data: no such file or folder '/no/such/new.parquet'"),
        ({"data": "{tmp}/sites.csv"}, "error: data: missing column(s) island, bill_length_mm, bill_depth_mm"),
        (
            {"model": "models:/{registered}@no-such-alias"},
            "error: model: cannot load 'models:/{registered}@no-such-alias'",
        ),
    ],
    ids=["no data", "missing column", "unknown alias"],
)
def test_a_bad_parameter_is_one_line_and_writes_nothing(params, error, cold_main, tracking_uri, tmp_path):
    registered = fresh_experiment_name("penguins-clusters-island")
    mlflow.register_model(model_of(cold_main, "cluster_islands"), registered)
    grouped_table(["a", "b"], rows_per_group=5).to_csv(tmp_path / "sites.csv", index=False)
    given = {"model": f"models:/{registered}/1", "output": str(tmp_path / "scored.parquet"), **params}
    given = {k: v.replace("{tmp}", str(tmp_path)).replace("{registered}", registered) for k, v in given.items()}
    experiment = fresh_experiment_name("score-bad")
    result = mlflow_run("score", experiment, tracking_uri, env=LOCAL, **given)
    assert result.returncode != 0
    (line,) = result.error_lines
    assert line.startswith(error.replace("{registered}", registered)) and "Traceback" not in result.stderr
    (run,) = runs_of(experiment)
    assert run.info.status == "FAILED"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sites.csv"]  # nothing written


def test_a_score_stopped_while_it_writes_leaves_no_output_and_no_run_running(cold_main, tracking_uri, tmp_path):
    router_uri = model_of(cold_main, "cluster_islands")
    rng = np.random.default_rng(0)
    penguins = load_penguins().frame.loc[:, ["island", *clustering.FEATURES]]
    many = penguins.sample(3_000_000, replace=True, random_state=0).reset_index(drop=True)
    many.loc[:, list(clustering.FEATURES)] += rng.normal(0, 0.1, size=(len(many), len(clustering.FEATURES)))
    many.to_parquet(tmp_path / "many.parquet")
    output = tmp_path / "scored.parquet"
    experiment = fresh_experiment_name("score-stopped")
    process = start_mlflow_run(
        "score", experiment, tracking_uri, model=router_uri, data=str(tmp_path / "many.parquet"), output=str(output)
    )
    deadline = time.monotonic() + 240
    while not list(tmp_path.glob("scored.parquet.incomplete-*/_temporary")):  # Spark is writing its part files
        assert process.poll() is None and time.monotonic() < deadline, process.communicate()[0][-3000:]
        time.sleep(0.2)
    os.killpg(process.pid, signal.SIGTERM)
    out, _ = process.communicate(timeout=180)
    assert process.returncode != 0 and "error: terminated (SIGTERM)" in out, out[-3000:]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["many.parquet"]  # no output, nor half of one
    (run,) = runs_of(experiment)
    assert run.info.status == "KILLED" and "score was stopped (SIGTERM)" in run.data.tags["error"]
