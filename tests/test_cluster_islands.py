"""End to end: `mlflow run . -e cluster_islands`, the grouped DBSCAN sweep on Spark with
nested runs, against the real tracking server; locally and on the standalone cluster."""

from __future__ import annotations

import ast
import json
import math
import re
import subprocess
import sys
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
from mlflow.entities import ViewType
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient
from s_dbw import S_Dbw
from sklearn.cluster import DBSCAN
from sklearn.metrics import calinski_harabasz_score, davies_bouldin_score, silhouette_score
from sklearn.preprocessing import StandardScaler

from harness.cli import fresh_experiment_name
from harness.servers import start_tracking_server, stop_process
from harness.tables import grouped_table
from steps import PROJECT
from steps.ml import clustering
from steps.ml.data import bundled_csv_path, load_penguins
from steps.sweep.task import EPS_RUNS_AT_ONCE
from tests.support import child_runs, mlflow_run, predict_elsewhere, runs_of, tracking_env, tracking_to

ISLANDS = {"Biscoe", "Dream", "Torgersen"}
FEATURES = ["bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g"]
LOCAL = {"SPARK_LOCAL_IP": "127.0.0.1"}


def sweep(tracking_uri, env=None, **params):
    experiment = fresh_experiment_name("islands")
    result = mlflow_run("cluster_islands", experiment, tracking_uri, env={**LOCAL, **(env or {})}, **params)
    assert result.returncode == 0, result.stderr[-4000:]
    return result, experiment


def levels(experiment):
    runs = runs_of(experiment)
    by_level = {level: [r for r in runs if r.data.tags.get("penguins.level") == level] for level in ("group", "eps")}
    jobs = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    return jobs, by_level["group"], by_level["eps"]


@pytest.mark.e2e
@pytest.mark.spark
def test_single_eps_as_written(tracking_uri):
    """`-P eps=0.5`: job run -> 3 group runs -> 1 eps run each, all FINISHED."""
    result, experiment = sweep(tracking_uri, eps="0.5")
    (job,), groups, eps_runs = levels(experiment)
    assert job.info.run_id == result.run_id and job.info.status == "FINISHED"
    assert {g.info.run_name for g in groups} == ISLANDS
    assert all(g.data.tags["mlflow.parentRunId"] == job.info.run_id for g in groups)
    for group in groups:
        (child,) = child_runs(group)
        assert child.info.run_name == f"{group.info.run_name}-eps0.5"
        assert child.data.params["eps"] == "0.5"
        assert child.info.experiment_id == job.info.experiment_id
    assert all(r.info.status == "FINISHED" for r in (job, *groups, *eps_runs))
    assert "groups done" in result.stderr  # progress is printed


@pytest.fixture(scope="module")
def default_sweep(tracking_uri):
    _, experiment = sweep(tracking_uri)
    return levels(experiment)


@pytest.mark.e2e
@pytest.mark.spark
def test_default_sweep_has_27_eps_runs_under_3_groups(default_sweep):
    (job,), groups, eps_runs = default_sweep
    assert len(groups) == 3 and len(eps_runs) == 27
    assert all(r.info.status == "FINISHED" for r in (job, *groups, *eps_runs))
    names = {r.info.run_name for r in eps_runs}
    assert {
        f"{island}-eps{eps:g}" for island in ISLANDS for eps in (0.1, 0.2, 0.3, 0.5, 0.7, 0.9, 1.1, 1.3, 1.5)
    } == names


@pytest.mark.e2e
@pytest.mark.spark
def test_group_run_records_the_best_eps_by_s_dbw(default_sweep):
    _, groups, _ = default_sweep
    for group in groups:
        children = child_runs(group)
        scored = {float(c.data.params["eps"]): c.data.metrics["s_dbw"] for c in children if "s_dbw" in c.data.metrics}
        best = min(scored, key=lambda eps: (scored[eps], eps))
        assert group.data.metrics["best_eps"] == best
        assert group.data.metrics["s_dbw"] == scored[best]
        assert group.data.tags["select_by"] == "s_dbw (lower is better)"


@pytest.mark.e2e
@pytest.mark.spark
def test_results_table_plots_and_models(default_sweep):
    (job,), _, eps_runs = default_sweep
    names = {f.path for f in MlflowClient().list_artifacts(job.info.run_id)}
    assert names == {"sweep_results.json", "sweep_results.csv", "chosen_eps.json", "chosen_eps.csv"}
    table = pd.read_csv(mlflow.artifacts.download_artifacts(run_id=job.info.run_id, artifact_path="sweep_results.csv"))
    assert len(table) == 27 and set(table["run_id"]) == {r.info.run_id for r in eps_runs}
    for model_uri, eps in zip(table["model_uri"], table["eps"], strict=True):
        assert mlflow.sklearn.load_model(model_uri).named_steps["dbscan"].eps == eps
    chosen = pd.read_csv(mlflow.artifacts.download_artifacts(run_id=job.info.run_id, artifact_path="chosen_eps.csv"))
    assert set(chosen["group"]) == ISLANDS


@pytest.mark.e2e
@pytest.mark.spark
def test_metrics_match_an_independent_computation(default_sweep):
    """Recompute Dream's metrics here, with scikit-learn and s_dbw directly."""
    _, groups, _ = default_sweep
    (dream,) = [g for g in groups if g.info.run_name == "Dream"]
    penguins = load_penguins().frame
    X = StandardScaler().fit_transform(penguins.loc[penguins["island"] == "Dream", FEATURES].to_numpy(float))
    for child in child_runs(dream):
        labels = DBSCAN(eps=float(child.data.params["eps"]), min_samples=3).fit_predict(X)
        kept = labels != -1
        n_clusters = len(set(labels[kept]))
        logged = child.data.metrics
        assert logged["n_clusters"] == n_clusters
        assert logged["n_clustered_records"] == kept.sum()
        assert logged["noise_ratio"] == pytest.approx(1 - kept.mean())
        if n_clusters >= 2:
            assert logged["silhouette"] == pytest.approx(silhouette_score(X[kept], labels[kept]))
            assert logged["calinski_harabasz"] == pytest.approx(calinski_harabasz_score(X[kept], labels[kept]))
            assert logged["davies_bouldin"] == pytest.approx(davies_bouldin_score(X[kept], labels[kept]))
            assert logged["s_dbw"] == pytest.approx(S_Dbw(X, labels, alg_noise="filter"))
        else:  # undefined: not logged as a number, said with a tag
            assert not {"silhouette", "s_dbw"} & set(logged)
            assert "silhouette" in child.data.tags["undefined_metrics"]


@pytest.mark.e2e
@pytest.mark.spark
def test_a_group_smaller_than_min_samples_is_logged_as_undefined(tracking_uri, tmp_path):
    penguins = pd.read_csv(bundled_csv_path()).dropna()
    small = pd.concat(
        [penguins[penguins["island"] != "Torgersen"], penguins[penguins["island"] == "Torgersen"].head(2)]
    )
    small.to_csv(tmp_path / "small.csv", index=False)
    _, experiment = sweep(tracking_uri, eps="0.5,0.9", data=str(tmp_path / "small.csv"))
    (job,), groups, eps_runs = levels(experiment)
    assert job.info.status == "FINISHED" and len(groups) == 3 and len(eps_runs) == 6
    torgersen = [r for r in eps_runs if r.data.params["group"] == "Torgersen"]
    assert all(r.data.metrics["n_clusters"] == 0 and "s_dbw" in r.data.tags["undefined_metrics"] for r in torgersen)
    # The router answers such a group's rows with noise and the reason, not an error.
    answer = mlflow.pyfunc.load_model(job.data.tags["model_uri"]).predict(small.loc[:, ["island", *FEATURES]])
    theirs = answer[answer["group"] == "Torgersen"]
    assert len(theirs) == 2 and (theirs["cluster"] == -1).all() and theirs["eps"].isna().all()
    assert set(theirs["reason"]) == {"no eps gave a defined s_dbw"}
    assert (answer.loc[answer["group"] != "Torgersen", "reason"] == "").all()


def island_rows(island: str) -> pd.DataFrame:
    penguins = load_penguins().frame
    return penguins.loc[penguins["island"] == island, FEATURES].reset_index(drop=True)


def sweep_table(job) -> pd.DataFrame:
    return pd.read_csv(mlflow.artifacts.download_artifacts(run_id=job.info.run_id, artifact_path="sweep_results.csv"))


@pytest.mark.e2e
@pytest.mark.spark
def test_every_eps_model_labels_raw_penguins_as_dbscan_clustered_them(default_sweep):
    """Each of the 27 models, loaded as pyfunc, on its island's raw rows: every core sample gets its cluster
    and every noise point -1, as an independent DBSCAN has them (cluster numbers may differ: a partition)."""
    (job,), _, _ = default_sweep
    for row in sweep_table(job).itertuples():
        rows = island_rows(row.group)
        model = mlflow.pyfunc.load_model(row.model_uri)
        predicted = np.asarray(model.predict(rows))
        assert (predicted == mlflow.sklearn.load_model(row.model_uri).predict(rows)).all()
        independent = DBSCAN(eps=row.eps, min_samples=3).fit(StandardScaler().fit_transform(rows))
        core = independent.core_sample_indices_
        assert (predicted[independent.labels_ == -1] == -1).all(), (row.group, row.eps)
        pairs = set(zip(independent.labels_[core], predicted[core], strict=True))
        assert len(pairs) == len({a for a, _ in pairs}) == len({b for _, b in pairs}), (row.group, row.eps)
        assert -1 not in {b for _, b in pairs}
        if len(core):  # a new penguin exactly on a core sample gets that core's cluster
            assert model.predict(rows.iloc[core[:1]]).tolist() == [predicted[core[0]]]
        assert model.predict(rows.head(1) * 10).tolist() == [-1]  # far from every penguin: noise


@pytest.mark.e2e
@pytest.mark.spark
def test_every_eps_model_carries_its_params_metrics_signature_and_example(default_sweep):
    _, _, eps_runs = default_sweep
    client = MlflowClient()
    for run in eps_runs:
        (output,) = run.outputs.model_outputs
        logged = client.get_logged_model(output.model_id)
        assert logged.params == {k: run.data.params[k] for k in ("eps", "min_samples", "group", "group_by")}
        assert {m.key: m.value for m in logged.metrics} == run.data.metrics
        info = mlflow.models.get_model_info(f"models:/{output.model_id}")
        assert info.signature.inputs.input_names() == FEATURES and "python_function" in info.flavors
        example = mlflow.models.Model.load(f"models:/{output.model_id}").load_input_example()
        assert list(example.columns) == FEATURES and len(example) == 5


@pytest.mark.e2e
@pytest.mark.spark
def test_each_group_run_shows_its_metrics_by_eps_and_its_clustering(default_sweep):
    _, groups, _ = default_sweep
    for group in groups:
        assert_figures(group, {"metrics_by_eps.png", "clusters.png"})


def assert_figures(group_run, names: set[str]) -> None:
    assert {f.path for f in MlflowClient().list_artifacts(group_run.info.run_id)} == names
    for name in names:
        picture = mlflow.artifacts.download_artifacts(run_id=group_run.info.run_id, artifact_path=name)
        assert Path(picture).read_bytes().startswith(b"\x89PNG")


@pytest.mark.e2e
@pytest.mark.spark
def test_the_router_model_labels_every_island_as_its_own_model(default_sweep, tmp_path):
    (job,), groups, _ = default_sweep
    router = mlflow.pyfunc.load_model(job.data.tags["model_uri"])
    penguins = load_penguins().frame
    answer = router.predict(penguins.loc[:, ["island", *FEATURES]])
    assert list(answer.columns) == ["group", "eps", "cluster", "reason"]
    assert (answer["group"] == penguins["island"].to_numpy()).all()
    for group in groups:
        island = group.info.run_name
        own = mlflow.pyfunc.load_model(group.data.tags["best_model_uri"]).predict(island_rows(island))
        mine = answer[answer["group"] == island]
        assert (mine["cluster"].to_numpy() == own).all()
        assert (mine["eps"] == float(group.data.tags["best_eps"])).all() and (mine["reason"] == "").all()
    unknown = penguins.loc[:1, ["island", *FEATURES]].assign(island="Atlantis")
    with pytest.raises(MlflowException, match="island: unknown group\\(s\\) 'Atlantis'; this model knows 'Biscoe'"):
        router.predict(unknown)

    # In a fresh process where this project cannot be imported: the model carries what it needs.
    rows = penguins.loc[:, ["island", *FEATURES]].groupby("island").head(20)
    elsewhere = predict_elsewhere(job.data.tags["model_uri"], rows, tmp_path)
    assert elsewhere["cluster"].tolist() == router.predict(rows)["cluster"].tolist()


def readme_scoring_example() -> tuple[pd.DataFrame, list[str], str, dict]:
    """The README's "Score new penguins": its Python rows and printed answer, its curl body and answer's start."""
    text = (PROJECT / "README.md").read_text().split("## Score new penguins", 1)[1].split("\n## ", 1)[0]
    python = text.split("```python\n", 1)[1].split("```", 1)[0]
    rows = ast.literal_eval(re.search(r"pd\.DataFrame\((\[\[.*?\]\])", python).group(1))
    columns = ast.literal_eval(re.search(r"columns = (\[.*?\])", python).group(1))
    printed = [line.removeprefix("# ") for line in python.splitlines() if line.startswith("# ")]
    body = json.loads(re.search(r"-d '(.*?)'", text, re.DOTALL).group(1))
    answer_start = re.search(r"^# (\{\"predictions\".*?)\.\.\.$", text, re.MULTILINE).group(1)
    return pd.DataFrame(rows, columns=columns), printed, answer_start, body


@pytest.mark.e2e
@pytest.mark.spark
def test_the_readme_scoring_example_answers_as_shown(default_sweep):
    (job,), _, _ = default_sweep  # main's defaults, as in the README
    rows, printed, answer_start, body = readme_scoring_example()
    assert body == {"dataframe_split": rows.to_dict(orient="split", index=False)}  # curl sends the same rows

    answer = mlflow.pyfunc.load_model(job.data.tags["model_uri"]).predict(rows)

    assert [line.rstrip() for line in str(answer).splitlines()] == printed
    assert json.dumps({"predictions": answer.to_dict(orient="records")}).startswith(answer_start)


@pytest.mark.e2e
@pytest.mark.spark
def test_with_artifacts_written_directly_no_file_goes_through_the_server(tmp_path):
    """A server started with --no-serve-artifacts: the tasks write every model's files to the store themselves,
    and the models load from there."""
    uri, server = start_tracking_server(tmp_path, artifacts="direct")
    try:
        with tracking_to(uri):
            _, experiment = sweep(uri, eps="0.5,0.9")
            (job,), _, _ = levels(experiment)
            table = sweep_table(job)
            for row in table.itertuples():
                rows = island_rows(row.group)
                assert len(mlflow.pyfunc.load_model(row.model_uri).predict(rows)) == len(rows)
            router = mlflow.pyfunc.load_model(job.data.tags["model_uri"])
            assert set(router.predict(load_penguins().frame.loc[:, ["island", *FEATURES]])["group"]) == ISLANDS
    finally:
        stop_process(server)
    assert len(table) == 6 and len(list((tmp_path / "artifacts").rglob("MLmodel"))) == 6 + 1  # and the router's
    served = (tmp_path / "server.log").read_text()
    assert "/mlflow-artifacts/" not in served
    # What each model still costs the server: create it, finalise it, name it in its run's outputs.
    for request in ("POST /api/2.0/mlflow/logged-models ", "PATCH /api/2.0/mlflow/logged-models/m-", "/runs/outputs "):
        assert served.count(request) == 6 + 1, request


ODD_GROUPS = ["north field", "a/b\\c", "Zürich ✓", "it's", "g" * 200, "..", "7"]


@pytest.mark.e2e
@pytest.mark.spark
def test_a_users_table_with_odd_group_names_and_log_models_best(tracking_uri, tmp_path):
    """Any table: the groups in a column named by the user (with a dot), other features; names that
    are odd as run names and file names. log_models=best: a model on each group's chosen eps run only."""
    table = grouped_table(ODD_GROUPS, rows_per_group=40, group_by="site.name")
    table.to_csv(tmp_path / "sites.csv", index=False)
    features = "temperature,humidity,pressure"
    params = {"group_by": "site.name", "features": features, "eps": "0.3,0.6,1.2", "log_models": "best"}
    _, experiment = sweep(tracking_uri, data=str(tmp_path / "sites.csv"), **params)
    (job,), groups, eps_runs = levels(experiment)
    assert sorted(g.info.run_name for g in groups) == sorted(ODD_GROUPS)
    assert len(eps_runs) == 3 * len(ODD_GROUPS)
    assert {(r.data.params["group"], r.data.params["eps"]) for r in eps_runs} == {
        (g, e) for g in ODD_GROUPS for e in ("0.3", "0.6", "1.2")
    }
    assert job.inputs.dataset_inputs[0].dataset.name == "sites"
    client = MlflowClient()
    for group in groups:
        chosen = group.data.tags["best_run_id"]
        for run in child_runs(group):
            assert bool(run.outputs.model_outputs) == (run.info.run_id == chosen)  # best: the chosen one only
        assert (
            group.data.tags["best_model_uri"] == f"models:/{client.get_run(chosen).outputs.model_outputs[0].model_id}"
        )
    for group in groups:
        assert_figures(group, {"metrics_by_eps.png", "clusters.png"})
    results = sweep_table(job)
    assert sorted(results["group"].astype(str).unique()) == sorted(ODD_GROUPS)
    assert results["model_uri"].notna().sum() == len(ODD_GROUPS)  # empty where no model was logged

    router = mlflow.pyfunc.load_model(job.data.tags["model_uri"])
    rows = table.loc[:, ["site.name", *features.split(",")]]
    answer = router.predict(rows)
    assert (answer["group"] == rows["site.name"]).all()
    for group in groups:
        own = mlflow.pyfunc.load_model(group.data.tags["best_model_uri"])
        mine = rows[rows["site.name"] == group.data.params["group"]]
        assert answer.loc[mine.index, "cluster"].tolist() == own.predict(mine.iloc[:, 1:]).tolist()


@pytest.mark.e2e
@pytest.mark.spark
def test_log_models_none_logs_metrics_but_no_model(tracking_uri):
    _, experiment = sweep(tracking_uri, eps="0.5,0.9", log_models="none")
    (job,), groups, eps_runs = levels(experiment)
    assert len(groups) == 3 and len(eps_runs) == 6
    assert not [r for r in eps_runs if r.outputs.model_outputs] and all(r.data.metrics for r in eps_runs)
    assert "model_uri" not in job.data.tags and not job.outputs.model_outputs  # no router: nothing to route to
    assert all("best_eps" in g.data.tags and "best_model_uri" not in g.data.tags for g in groups)
    assert sweep_table(job)["model_uri"].isna().all()


def assert_exactly_once(experiment, log_models="all", groups_expected=3, eps_per_group=9):
    (job,), groups, eps_runs = levels(experiment)
    assert job.info.status == "FINISHED"
    assert len(groups) == groups_expected and len({g.data.params["group"] for g in groups}) == groups_expected
    assert len(eps_runs) == len({(r.data.params["group"], r.data.params["eps"]) for r in eps_runs})
    assert len(eps_runs) == groups_expected * eps_per_group
    assert not [r for r in runs_of(experiment) if r.info.status == "RUNNING"]
    chosen = {g.data.tags["best_run_id"] for g in groups}
    with_model = {r.info.run_id for r in eps_runs if r.outputs.model_outputs}
    expected = {"all": {r.info.run_id for r in eps_runs}, "best": chosen, "none": set()}[log_models]
    assert with_model == expected and all(len(r.outputs.model_outputs) <= 1 for r in eps_runs)
    for run in eps_runs:  # every metric once: no duplicate history from the failed attempt
        assert len(MlflowClient().get_metric_history(run.info.run_id, "n_clusters")) == 1
    # The retries reused what the first attempts finished: only runs left half-logged (at most
    # those in flight, per group) were deleted and logged again, not all 27.
    redone = MlflowClient().search_runs(
        [job.info.experiment_id], "tags.`penguins.level` = 'eps'", run_view_type=ViewType.DELETED_ONLY
    )
    assert len(redone) <= EPS_RUNS_AT_ONCE * len(groups)


FAULT = {"MLFLOW_PENGUINS_TEST_FAIL_FIRST_ATTEMPT": "1"}


@pytest.mark.e2e
@pytest.mark.spark
@pytest.mark.parametrize("log_models", ["all", "best", "none"])
def test_retried_tasks_leave_each_run_exactly_once_locally(tracking_uri, log_models):
    # local[2,2]: two cores, spark.task.maxFailures=2 (local mode's way of saying it).
    _, experiment = sweep(tracking_uri, env=FAULT, spark_master="local[2,2]", log_models=log_models)
    assert_exactly_once(experiment, log_models)


@pytest.mark.e2e
@pytest.mark.spark
def test_a_crashed_python_worker_is_retried_and_leaves_each_run_exactly_once(tracking_uri):
    # The first attempt's Python worker exits (os._exit) after logging; Spark retries the task.
    crash = {"MLFLOW_PENGUINS_TEST_FAIL_FIRST_ATTEMPT": "crash"}
    result, experiment = sweep(tracking_uri, env=crash, spark_master="local[2,2]")
    assert "injected fault" in result.stderr  # the workers really died
    assert_exactly_once(experiment)


@pytest.mark.e2e
@pytest.mark.spark
@pytest.mark.slow
def test_retried_tasks_leave_each_run_exactly_once_on_the_cluster(tracking_uri, spark_cluster, tmp_path):
    conf_dir = tmp_path / "conf"
    conf_dir.mkdir()
    (conf_dir / "spark-defaults.conf").write_text("spark.task.maxFailures 2\n")
    env = {**FAULT, "SPARK_CONF_DIR": str(conf_dir)}
    _, experiment = sweep(tracking_uri, env=env, spark_master=spark_cluster.master_url)
    assert_exactly_once(experiment)
    assert spark_cluster.executor_dirs("cluster_islands")  # the tasks ran in the workers' executors
    stderr = "\n".join(p.read_text() for d in spark_cluster.executor_dirs("cluster_islands") for p in d.glob("stderr"))
    assert "injected fault" in stderr  # the first attempts really failed there


@pytest.mark.e2e
def test_a_group_run_created_twice_is_resumed_once(tracking_uri, experiment):
    """An earlier attempt left two group runs for Biscoe (its create was sent twice) and one
    half-logged eps run under the first. The next attempt resumes that group run and logs every
    eps under it; then the driver's pass deletes the twin and the half-logged run. One group's
    task, run in-process."""
    from steps.sweep.config import JOB, SweepConfig
    from steps.sweep.driver import delete_unnamed_runs
    from steps.sweep.task import GroupRunContext, _create_group_run, _log_eps_run, sweep_group
    from steps.tracking.models import SKLEARN_REQUIREMENTS, pinned

    client = MlflowClient(tracking_uri)
    experiment_id = client.create_experiment(experiment)
    job = client.create_run(experiment_id)
    requirements = tuple(pinned(*SKLEARN_REQUIREMENTS))
    config = SweepConfig(
        tracking_uri, experiment_id, job.info.run_id, "island", tuple(FEATURES), (0.5, 0.9), 3, "s_dbw", requirements
    )
    rows = load_penguins().frame
    biscoe = rows.loc[rows["island"] == "Biscoe", FEATURES]
    identity = {JOB: job.info.run_id, "penguins.group": "Biscoe"}
    first, twin = (_create_group_run(client, config, "Biscoe", identity) for _ in range(2))
    (half_logged,) = clustering.sweep(biscoe, FEATURES, [0.5], 3)
    with pytest.raises(RuntimeError, match="injected fault"):  # dies right after creating the eps run
        context = GroupRunContext(client, config, "Biscoe", first.info.run_id, identity, 0, biscoe.head(5))
        _log_eps_run(context, half_logged, True, "raise")

    table = sweep_group(config, "Biscoe", biscoe)
    assert delete_unnamed_runs(client, config, table) == 2

    active = client.search_runs([experiment_id], f"tags.`{JOB}` = '{job.info.run_id}'")
    groups = [r for r in active if r.data.tags["penguins.level"] == "group"]
    eps_runs = [r for r in active if r.data.tags["penguins.level"] == "eps"]
    assert [g.info.run_id for g in groups] == [first.info.run_id] and groups[0].info.status == "FINISHED"
    assert groups[0].data.params["select_by"] == "s_dbw"
    assert sorted(r.data.params["eps"] for r in eps_runs) == ["0.5", "0.9"]
    assert {(r.info.status, r.data.tags["mlflow.parentRunId"]) for r in eps_runs} == {("FINISHED", first.info.run_id)}
    assert set(table["run_id"]) == {r.info.run_id for r in eps_runs}
    deleted = client.search_runs([experiment_id], run_view_type=ViewType.DELETED_ONLY)
    assert len(deleted) == 2 and twin.info.run_id in {r.info.run_id for r in deleted}


@pytest.mark.e2e
def test_eps_must_be_distinct_positive_numbers(tracking_uri, experiment):
    from steps.cli.params import ParamError
    from steps.cluster_islands import PARAMS

    eps = next(p for p in PARAMS if p.name == "eps")
    assert eps.parse("eps", "0.5") == [0.5]
    with pytest.raises(ParamError):
        eps.parse("eps", "0")
    assert math.isclose(sum(eps.parse("eps", eps.default)), 6.6)
    assert np.allclose(eps.parse("eps", "[0.1, 0.2]"), [0.1, 0.2])

    # A repeated value parses as a list of numbers > 0; the step itself refuses it, before any Spark.
    step = [sys.executable, "-m", "steps.cluster_islands", "--eps", "0.5,0.5"]
    env = tracking_env(tracking_uri, {"MLFLOW_EXPERIMENT_NAME": experiment})
    done = subprocess.run(step, capture_output=True, text=True, env=env, cwd=PROJECT, timeout=120)
    error = "eps: must be distinct values, got '0.5,0.5'"
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [f"error: {error}"]
    (run,) = runs_of(experiment)  # no run left RUNNING
    assert run.info.status == "FAILED" and run.data.tags["error"].endswith(error)


@pytest.mark.e2e
@pytest.mark.spark
def test_a_failed_spark_job_leaves_no_run_running(tracking_uri, experiment):
    # local[2,1]: one attempt per task, so the injected fault fails the whole Spark job.
    params = {"spark_master": "local[2,1]", "eps": "0.5"}
    result = mlflow_run("cluster_islands", experiment, tracking_uri, env={**LOCAL, **FAULT}, **params)
    assert result.returncode != 0
    runs = runs_of(experiment)
    assert len(runs) > 1  # the job and the runs its tasks had started
    assert not [r for r in runs if r.info.status == "RUNNING"]
    assert result.run().info.status == "FAILED"
