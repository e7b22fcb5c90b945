"""`main` end to end through `mlflow run` on the real server: chaining, the step cache, report, registry."""

from __future__ import annotations

import mlflow
import numpy as np
import pytest
from mlflow.tracking import MlflowClient
from sklearn.preprocessing import StandardScaler

from harness.servers import free_port
from steps.main import STEPS
from steps.ml import body_mass, clustering, sex, species
from steps.ml.data import load_penguins
from steps.ml.dbscan import NearestCoreDBSCAN
from steps.pipeline.registry import ALIAS, SOURCE_MODEL
from steps.pipeline.step_runs import CACHE, REUSED_FROM
from tests.support import child_runs, mlflow_run, runs_of, steps_of

pytestmark = [pytest.mark.e2e, pytest.mark.spark, pytest.mark.slow]

MAIN_TIMEOUT = 900


def body_masses_in_grams(predicted) -> bool:
    grams = np.asarray(predicted, dtype=float)
    return bool(np.isfinite(grams).all() and ((grams > 2000) & (grams < 7000)).all())  # the penguins weigh 2.7-6.3 kg


# Step -> the raw columns its champion scores, and what its predictions must be on every penguin.
PYFUNC_CHAMPIONS = {
    "classify_sex": (sex.FEATURES, lambda predicted: set(predicted) == {"female", "male"}),
    "tune_body_mass": (body_mass.FEATURES, body_masses_in_grams),
    "classify_species": (species.FEATURES, lambda predicted: set(predicted) == set(species.SPECIES)),
}


def states(main_run) -> dict[str, str]:
    return {name: run.data.tags[CACHE] for name, run in steps_of(main_run).items()}


def run_main(experiment, tracking_uri, **params):
    result = mlflow_run("main", experiment, tracking_uri, timeout=MAIN_TIMEOUT, **params)
    assert result.returncode == 0, result.stderr[-4000:]
    run = result.run()
    assert run.info.status == "FINISHED"
    return result, run


def read_report(run_id: str, name: str) -> str:
    return mlflow.artifacts.load_text(f"runs:/{run_id}/report/{name}")


@pytest.fixture(scope="module")
def first_main(cold_main):
    """The session's cold `main` on the defaults: the tests below only read it or add runs beside it."""
    return cold_main


def test_main_runs_every_step_under_it(first_main):
    _, result, main = first_main
    steps = steps_of(main)
    assert sorted(steps) == sorted(STEPS)
    assert all(r.info.status == "FINISHED" and r.data.tags[CACHE] == "fresh" for r in steps.values())
    assert main.data.params["eps"] == "0.1,0.2,0.3,0.5,0.7,0.9,1.1,1.3,1.5"
    # Their own nested runs hang under them: 6 alphas, 3 islands with 9 eps each.
    assert len(child_runs(steps["tune_body_mass"])) == 6
    groups = child_runs(steps["cluster_islands"])
    assert len(groups) == 3
    assert all(len(child_runs(g)) == 9 for g in groups)
    assert all(f"main: {name}: fresh" in result.stdout for name in STEPS)
    # Named for what they are in the UI, not at random; and main says where to look.
    assert main.info.run_name == "main"
    assert {name: run.info.run_name for name, run in steps.items()} == {name: name for name in STEPS}
    assert sorted(g.info.run_name for g in groups) == ["Biscoe", "Dream", "Torgersen"]
    page = f"#/experiments/{main.info.experiment_id}/runs/{main.info.run_id}"
    assert f"main: report: {main.info.artifact_uri}/report/report.html" in result.stdout.splitlines()
    assert f"main: open the run: {mlflow.get_tracking_uri()}/{page}" in result.stdout.splitlines()


def test_the_report_summarises_every_step(first_main):
    _, _, main = first_main
    steps = steps_of(main)
    page = read_report(main.info.run_id, "report.md")
    html = read_report(main.info.run_id, "report.html")
    for name, run in steps.items():
        assert f"## {name} (fresh)" in page
        assert run.info.run_id in page and run.info.run_id in html
    assert f"eval_acc {steps['classify_sex'].data.metrics['eval_acc']:.4g}" in page
    assert steps["classify_species"].data.tags["model_uri"] in html
    assert "![roc_curve_plot](classify_sex/roc_curve_plot.png)" in page
    # classify_sex: evaluate's five and our confusion counts; rmse; per island its metrics by eps and its clustering
    assert html.count("data:image/png;base64,") == 6 + 1 + 3 + 3
    assert "![Biscoe](cluster_islands/plots/Biscoe.png)\n![Biscoe](cluster_islands/clusters/Biscoe.png)" in page
    assert "best eps" in html and "Biscoe" in html


def test_a_second_main_reuses_every_step(first_main, tracking_uri):
    experiment, _, first = first_main
    assert_a_second_main_reuses_every_step(experiment, first, tracking_uri)


def assert_a_second_main_reuses_every_step(experiment: str, first, tracking_uri: str) -> None:
    before = len(runs_of(experiment))
    result, second = run_main(experiment, tracking_uri)
    assert states(second) == dict.fromkeys(STEPS, "reused")
    fresh = steps_of(first)
    for name, stub in steps_of(second).items():
        assert stub.data.tags[REUSED_FROM] == fresh[name].info.run_id
        assert stub.data.metrics == fresh[name].data.metrics
        assert f"main: {name}: reused" in result.stdout
    assert len(runs_of(experiment)) == before + 5  # main and four pointers; nothing re-ran
    assert "## cluster_islands (reused)" in read_report(second.info.run_id, "report.md")


def test_changing_eps_reruns_only_cluster_islands_and_register_sets_champions(first_main, tracking_uri):
    experiment, _, _ = first_main
    _, third = run_main(experiment, tracking_uri, eps="0.50", register="true")
    assert states(third) == {**dict.fromkeys(STEPS, "reused"), "cluster_islands": "fresh"}
    steps = steps_of(third)
    groups = child_runs(steps["cluster_islands"])
    assert all(len(child_runs(g)) == 1 for g in groups)

    client = MlflowClient()
    penguins = load_penguins().frame
    for step, (features, valid) in PYFUNC_CHAMPIONS.items():
        name = f"penguins-{step.replace('_', '-')}"
        champion = client.get_model_version_by_alias(name, ALIAS)
        source_model = mlflow.get_run(steps[step].data.tags[REUSED_FROM]).data.tags["model_uri"]
        assert champion.tags[SOURCE_MODEL] == source_model
        raw = penguins.loc[:, list(features)]  # the rows as in the data set: text categories, grams
        predicted = list(mlflow.pyfunc.load_model(f"models:/{name}@{ALIAS}").predict(raw))
        assert len(predicted) == len(raw) and valid(predicted), (name, predicted[:10])
        assert predicted == list(mlflow.pyfunc.load_model(source_model).predict(raw)), name

    # Each group's DBSCAN champion is its group's fitted pipeline, and scores the group's raw rows.
    chosen = [g for g in groups if "best_model_uri" in g.data.tags]  # s_dbw may be undefined for a group at 0.5
    assert chosen
    for group in chosen:
        island = group.data.tags["penguins.group"]
        name = f"penguins-dbscan-island-{island}"
        assert client.get_model_version_by_alias(name, ALIAS).tags[SOURCE_MODEL] == group.data.tags["best_model_uri"]
        model = mlflow.sklearn.load_model(f"models:/{name}@{ALIAS}")
        assert [type(s) for s in model.named_steps.values()] == [StandardScaler, NearestCoreDBSCAN]
        scaler, dbscan = model.named_steps["standardscaler"], model.named_steps["dbscan"]
        assert dbscan.eps == float(group.data.tags["best_eps"]) == 0.5 and dbscan.min_samples == 3
        measured = penguins.loc[penguins["island"] == island, list(clustering.FEATURES)]
        assert np.allclose(scaler.mean_, measured.mean()) and len(dbscan.labels_) == len(measured)
        served = mlflow.pyfunc.load_model(f"models:/{name}@{ALIAS}").predict(measured)
        assert (served == model.predict(measured)).all()

    # One model for every island: the router, registered from the sweep's job run.
    router = client.get_model_version_by_alias("penguins-clusters-island", ALIAS)
    assert router.tags[SOURCE_MODEL] == steps["cluster_islands"].data.tags["model_uri"]
    answer = mlflow.pyfunc.load_model(f"models:/penguins-clusters-island@{ALIAS}").predict(
        penguins.loc[:, ["island", *clustering.FEATURES]]
    )
    assert len(answer) == len(penguins) and set(answer["group"]) == {"Biscoe", "Dream", "Torgersen"}

    # Same again: the cache hits ("0.5" is "0.50") and the champions are not registered twice.
    _, fourth = run_main(experiment, tracking_uri, eps="0.5", register="true")
    assert states(fourth) == dict.fromkeys(STEPS, "reused")
    assert client.get_model_version_by_alias("penguins-classify-sex", ALIAS).version == "1"


def test_force_reruns_and_a_failed_step_fails_main(first_main, tracking_uri):
    experiment, _, _ = first_main
    dead = f"spark://127.0.0.1:{free_port()}"
    result = mlflow_run("main", experiment, tracking_uri, timeout=MAIN_TIMEOUT, force="true", spark_master=dead)
    assert result.returncode != 0
    # The steps' own error lines, then main's, which repeats the first failed step's (in STEPS order).
    assert all("spark_master" in line for line in result.error_lines)
    assert "step classify_species failed" in result.error_lines[-1] and "spark_master" in result.error_lines[-1]
    main = result.run()
    assert main.info.status == "FAILED" and "classify_species" in main.data.tags["error"]
    # Forced: the cached steps ran again, alongside the two Spark steps that failed.
    failed = dict.fromkeys(["classify_species", "cluster_islands"], "failed")
    assert states(main) == {"classify_sex": "fresh", "tune_body_mass": "fresh", **failed}
    assert not [r for r in runs_of(experiment) if r.info.status == "RUNNING"]
