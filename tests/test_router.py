"""The clustering router at scale, through the real `mlflow models serve`: a 200-group sweep's router labelling
every group as its own model does, served from a registry alias; a 1,000-group router answering 8 concurrent
clients; bad requests refused in one short line."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

import mlflow
import numpy as np
import pandas as pd
import pytest
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from harness.cli import fresh_experiment_name
from harness.routers import log_router_of
from harness.tables import FEATURES, grouped_table, numbered_groups
from tests.support import post, post_text, predict_elsewhere, served

pytestmark = [pytest.mark.e2e]

COLUMNS = ["site", *FEATURES]


def split(rows: pd.DataFrame) -> dict:
    return {"dataframe_split": rows.loc[:, COLUMNS].to_dict(orient="split", index=False)}


@pytest.mark.spark
def test_the_router_of_a_200_group_sweep_labels_every_group_as_its_own_model(sweep_of_200_groups, tmp_path):
    job, table = sweep_of_200_groups
    router_uri = job.data.tags["model_uri"]
    rows = table.loc[:, COLUMNS]
    answer = mlflow.pyfunc.load_model(router_uri).predict(rows)

    chosen = pd.read_csv(mlflow.artifacts.download_artifacts(run_id=job.info.run_id, artifact_path="chosen_eps.csv"))
    assert len(chosen) == 200 and (answer["group"] == rows["site"]).all()

    def own_labels(group) -> list[int]:
        mine = rows["site"] == group.group
        return list(mlflow.pyfunc.load_model(group.model_uri).predict(rows.loc[mine, FEATURES]))

    served_groups = chosen[chosen["eps"].notna()]
    assert len(served_groups) > 150  # most groups are served by a model
    with ThreadPoolExecutor(4) as pool:  # 200 models to fetch from the server
        own = dict(zip(served_groups["group"], pool.map(own_labels, served_groups.itertuples()), strict=True))
    for group in chosen.itertuples():
        mine = (rows["site"] == group.group).to_numpy()
        if pd.isna(group.eps):  # no eps gave a defined s_dbw: noise, and the reason
            assert (answer.loc[mine, "cluster"] == -1).all() and (answer.loc[mine, "reason"] != "").all()
            continue
        assert answer.loc[mine, "cluster"].tolist() == own[group.group], group.group
        assert (answer.loc[mine, "eps"] == group.eps).all() and (answer.loc[mine, "reason"] == "").all()

    sample = rows.sample(300, random_state=0)
    elsewhere = predict_elsewhere(router_uri, sample, tmp_path)
    assert elsewhere["cluster"].tolist() == answer.loc[sample.index, "cluster"].tolist()

    name = fresh_experiment_name("penguins-clusters-site")
    version = mlflow.register_model(router_uri, name).version
    MlflowClient().set_registered_model_alias(name, "champion", version)
    with served(f"models:/{name}@champion", mlflow.get_tracking_uri(), tmp_path / "serve.log") as url:
        status, served_answer = post(url, split(sample))
    assert status == 200
    assert served_answer["predictions"] == answer.loc[sample.index].to_dict(orient="records")


@pytest.fixture(scope="module")
def router_of_1000_groups(tracking_uri):
    """A router of 1,000 generated sites (60 rows each, eps 1.0), logged without a sweep: (its URI, the table)."""
    table = grouped_table(numbered_groups(1000), rows_per_group=60)
    return log_router_of(table, "site", FEATURES, 1.0, fresh_experiment_name("router-1000")), table


def test_8_concurrent_clients_get_what_the_router_answers_in_process(router_of_1000_groups, tracking_uri, tmp_path):
    router_uri, table = router_of_1000_groups
    router = mlflow.pyfunc.load_model(router_uri)
    picks = np.random.default_rng(8).integers(len(table), size=(8, 50))  # 8 clients, 50 requests each

    def client(rows: np.ndarray) -> list[tuple[int, dict]]:
        return [post(url, split(table.iloc[[row]])) for row in rows]

    with served(router_uri, tracking_uri, tmp_path / "serve.log") as url, ThreadPoolExecutor(8) as pool:
        answers = [answer for answers in pool.map(client, picks) for answer in answers]

    assert [status for status, _ in answers] == [200] * 400
    expected = [router.predict(table.iloc[[row], :].loc[:, COLUMNS]).to_dict(orient="records") for row in picks.flat]
    assert [answer["predictions"] for _, answer in answers] == expected
    assert len({record["group"] for (record,) in expected}) > 300  # random groups, nearly all met once


def body_of(rows: list[list], columns: list[str] = COLUMNS) -> str:
    """A request's body, with the rows' values as written (JSON's Infinity, NaN and 1e309 included)."""
    data = ", ".join(
        "[" + ", ".join(value if isinstance(value, str) else json.dumps(value) for value in row) + "]" for row in rows
    )
    return f'{{"dataframe_split": {{"columns": {json.dumps(columns)}, "data": [{data}]}}}}'


GOOD = ['"site-0007"', 1.0, 2.0, 3.0, 4.0]
BAD_REQUESTS = {
    # what is sent -> what the one-line answer says
    "unknown group": (
        body_of([GOOD, GOOD, ['"Atlantis"', 1.0, 2.0, 3.0, 4.0]]),
        "site: unknown group(s) 'Atlantis'; this model knows 1000 groups, e.g. 'site-0000', 'site-0001', 'site-0002'",
    ),
    "many unknown groups": (
        body_of([[f'"nowhere-{i}"', 1.0, 2.0, 3.0, 4.0] for i in range(12)]),
        "site: unknown group(s) 'nowhere-0', 'nowhere-1', 'nowhere-2', 'nowhere-3', 'nowhere-4' and 7 more; "
        "this model knows 1000 groups",
    ),
    "numeric group": (body_of([["3", 1.0, 2.0, 3.0, 4.0]]), "site: unknown group(s) '3'; this model knows 1000 groups"),
    "Infinity": (
        body_of([GOOD, GOOD, ['"site-0007"', "Infinity", 2.0, 3.0, 4.0]]),
        "temperature: infinite value at row 2 (of 3)",
    ),
    "-Infinity": (body_of([['"site-0007"', 1.0, "-Infinity", 3.0, 4.0]]), "humidity: infinite value at row 0 (of 1)"),
    "1e309": (body_of([GOOD, ['"site-0007"', 1.0, 2.0, "1e309", 4.0]]), "pressure: infinite value at row 1 (of 2)"),
    "NaN": (body_of([['"site-0007"', 1.0, 2.0, 3.0, "NaN"]]), "wind: missing value at row 0 (of 1)"),
    "null": (body_of([GOOD, ['"site-0007"', "null", 2.0, 3.0, 4.0]]), "temperature: missing value at row 1 (of 2)"),
    "no group": (body_of([GOOD, ["null", 1.0, 2.0, 3.0, 4.0]]), "site: missing value at row 1 (of 2)"),
    "a string in a feature": (
        body_of([['"site-0007"', '"warm"', 2.0, 3.0, 4.0]]),
        "Failed to convert column temperature to type 'float64'",
    ),
    "a missing column": (
        body_of([GOOD[:4]], COLUMNS[:4]),
        "missing column(s) 'wind'; every row needs 5: 'site', 'temperature'",
    ),
    "an empty body": ("", "Ensure that input is a valid JSON formatted string"),
    "not JSON": ("site-0007,1,2,3,4", "Ensure that input is a valid JSON formatted string"),
}


def test_bad_requests_are_one_short_line_each_and_the_server_goes_on(router_of_1000_groups, tracking_uri, tmp_path):
    router_uri, table = router_of_1000_groups
    with served(router_uri, tracking_uri, tmp_path / "serve.log") as url:
        answers = {case: post_text(url, text) for case, (text, _) in BAD_REQUESTS.items()}
        after = post(url, split(table.head(2)))
    for case, (status, body) in answers.items():
        answer = json.loads(body)
        assert status == 400, (case, body)
        assert BAD_REQUESTS[case][1] in answer["message"], (case, body)
        assert len(body) < 600 and "Traceback" not in body and "stack_trace" not in answer, (case, body)
    for case in ("unknown group", "many unknown groups", "Infinity", "NaN", "a missing column", "no group"):
        assert "\n" not in json.loads(answers[case][1])["message"], case
    assert after[0] == 200 and len(after[1]["predictions"]) == 2


def test_an_unknown_group_is_named_in_at_most_300_characters_however_long_the_names(tracking_uri):
    long_names = [f"{'station ' * 30}{i}" for i in range(12)]  # 240 characters and more
    table = grouped_table(long_names, rows_per_group=20)
    router = mlflow.pyfunc.load_model(log_router_of(table, "site", FEATURES, 1.0, fresh_experiment_name("long")))
    asked = table.head(12).assign(site=[f"{'nowhere ' * 40}{i}" for i in range(12)]).loc[:, COLUMNS]
    with pytest.raises(MlflowException) as refused:
        router.predict(asked)
    message = refused.value.message
    assert len(message) <= 300 and " and 7 more; this model knows 12 groups, e.g. 'station station station…'" in message
    assert message.startswith("site: unknown group(s) 'nowhere nowhere nowhere…', ")
