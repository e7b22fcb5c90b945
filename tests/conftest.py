"""Session fixtures: a real `mlflow server`, a real Spark cluster and Connect server, all on loopback."""

from __future__ import annotations

import uuid

import mlflow
import pytest

from tests.spark_cluster import start_cluster, start_connect_server
from tests.support import start_tracking_server, stop_process


@pytest.fixture(scope="session")
def tracking_uri(tmp_path_factory):
    """A real tracking server: SQLite backend, proxied artifacts, one worker, a free port on 127.0.0.1."""
    uri, server = start_tracking_server(tmp_path_factory.mktemp("tracking-server"))
    try:
        mlflow.set_tracking_uri(uri)
        yield uri
    finally:
        stop_process(server)


@pytest.fixture
def experiment(tracking_uri, request):
    """A fresh experiment name per test, so runs never mix."""
    return f"{request.node.name[:60]}-{uuid.uuid4().hex[:8]}"


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
