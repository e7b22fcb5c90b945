"""Promotion through `main -P register=...` on a tracking server of its own (registered names are global to a
server): a worse model never becomes champion, force moves it, a better one is promoted, a router that drops
groups is kept and one no worse on every group is promoted; past GROUP_MODELS_UP_TO groups, the router alone."""

from __future__ import annotations

import mlflow
import pytest
from mlflow.tracking import MlflowClient

from harness.cli import fresh_experiment_name
from harness.servers import start_tracking_server, stop_process
from steps.ml import clustering
from steps.ml.data import load_penguins
from steps.pipeline.registry import ALIAS, CHALLENGER, GROUP_MODELS_UP_TO, VERDICT
from tests.support import mlflow_run, tracking_to

pytestmark = [pytest.mark.e2e, pytest.mark.spark, pytest.mark.slow]

MAIN_TIMEOUT = 900
TUNE = "penguins-tune-body-mass"
ROUTER = "penguins-clusters-island"


@pytest.fixture(scope="module")
def registry(tmp_path_factory):
    """A tracking server and experiment of this module's own, and MLflow pointed at it meanwhile."""
    uri, server = start_tracking_server(tmp_path_factory.mktemp("promotion-server"))
    try:
        with tracking_to(uri):
            yield uri, fresh_experiment_name("promotion")
    finally:
        stop_process(server)


def main(registry, **params):
    uri, experiment = registry
    result = mlflow_run("main", experiment, uri, timeout=MAIN_TIMEOUT, **params)
    assert result.returncode == 0, result.stderr[-4000:]
    return result


def versions(name: str) -> tuple[str, str]:
    client = MlflowClient()
    return client.get_model_version_by_alias(name, ALIAS).version, client.get_model_version_by_alias(
        name, CHALLENGER
    ).version


def test_a_worse_model_is_kept_out_forced_in_and_a_better_one_promoted(registry):
    first = main(registry, register="true")
    assert f"main: {TUNE}: challenger v1 promoted: first version" in first.stdout
    assert versions(TUNE) == ("1", "1")

    worse = main(registry, register="true", alphas="100000,1000000")
    (line,) = [line for line in worse.stdout.splitlines() if line.startswith(f"main: {TUNE}:")]
    assert line.startswith(f"main: {TUNE}: champion v1 kept: rmse ") and line.endswith(" on 67 rows")
    champion_rmse, challenger_rmse, _ = [float(word) for word in line.split() if word.replace(".", "").isdigit()]
    assert champion_rmse < challenger_rmse
    assert versions(TUNE) == ("1", "2")
    tags = MlflowClient().get_model_version(TUNE, "2").tags
    assert tags[VERDICT] == "kept" and tags[f"{VERDICT}.champion_version"] == "1"
    assert float(tags[f"{VERDICT}.challenger_score"]) == pytest.approx(challenger_rmse, rel=1e-3)

    forced = main(registry, register="force", alphas="100000,1000000")
    assert f"main: {TUNE}: challenger v2 promoted: register=force" in forced.stdout
    assert versions(TUNE) == ("2", "2")

    better = main(registry, register="true")  # the default alphas again: step reused, its version v1 judged anew
    assert f"main: {TUNE}: challenger v1 promoted: rmse " in better.stdout
    assert versions(TUNE) == ("1", "1")


def test_a_router_that_drops_a_group_is_kept_and_one_no_worse_everywhere_promoted(registry, tmp_path):
    main(registry, register="true")  # champions exist (first versions, or kept from the test above)
    before, _ = versions(ROUTER)
    two_islands = tmp_path / "two_islands.csv"
    load_penguins().frame.query("island != 'Torgersen'").to_csv(two_islands, index=False)
    fewer = main(registry, register="true", data=str(two_islands))
    assert "the challenger drops 1 group: Torgersen" in fewer.stdout
    assert versions(ROUTER)[0] == before

    again = main(registry, register="true", force="true")  # the same sweep again: the same clustering, a new model
    assert "no worse on each of 3 groups" in next(
        line for line in again.stdout.splitlines() if line.startswith(f"main: {ROUTER}:")
    )
    champion, challenger = versions(ROUTER)
    assert champion == challenger != before
    penguins = load_penguins().frame.loc[:, ["island", *clustering.FEATURES]]
    answer = mlflow.pyfunc.load_model(f"models:/{ROUTER}@{ALIAS}").predict(penguins)  # the champion serves all three
    assert len(answer) == len(penguins) and set(answer["group"]) == {"Biscoe", "Dream", "Torgersen"}


def test_past_the_limit_of_groups_only_the_router_is_registered(registry, tmp_path):
    sites = tmp_path / "sites.csv"
    penguins = load_penguins().frame
    count = GROUP_MODELS_UP_TO + 1
    penguins.assign(site=[f"site-{i % count}" for i in range(len(penguins))]).to_csv(sites, index=False)

    result = main(registry, register="true", data=str(sites), group_by="site")

    line = f"main: {count} groups: only the router is registered (each group's own model is, up to 4 groups)"
    assert line in result.stdout
    assert "main: penguins-clusters-site: challenger v1 promoted: first version" in result.stdout
    assert not [m.name for m in MlflowClient().search_registered_models("name LIKE 'penguins-dbscan-site-%'")]
