"""An authenticated tracking server: `mlflow server --app-name basic-auth` on loopback, a real user.

Every entry point (through `main`, with both Spark steps on the standalone cluster, so the
executors log with the credentials too) works with MLFLOW_TRACKING_USERNAME/PASSWORD, and
the password is nowhere: not in the runs, the artifacts, the store, or any output.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import subprocess
import sys
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from harness.servers import start_tracking_server, stop_process
from steps import PROJECT
from tests.support import mlflow_run

pytestmark = pytest.mark.e2e


@dataclass
class AuthServer:
    uri: str
    root: Path
    user: str
    password: str
    admin: dict[str, str]  # the admin's MLFLOW_TRACKING_* variables, for reading back


@pytest.fixture(scope="module")
def auth_server(tmp_path_factory):
    root = tmp_path_factory.mktemp("auth-server")
    admin_password, password = secrets.token_hex(16), f"pw-{secrets.token_hex(16)}"
    config = root / "basic_auth.ini"
    config.write_text(
        "[mlflow]\ndefault_permission = READ\n"
        f"database_uri = sqlite:///{root / 'auth.db'}\nadmin_username = admin\nadmin_password = {admin_password}\n"
        "authorization_function = mlflow.server.auth:authenticate_request_basic_auth\n"
    )
    env = {"MLFLOW_AUTH_CONFIG_PATH": str(config), "MLFLOW_FLASK_SERVER_SECRET_KEY": secrets.token_hex(16)}
    uri, server = start_tracking_server(root, ("--app-name", "basic-auth"), env=env)
    try:
        request = urllib.request.Request(
            f"{uri}/api/2.0/mlflow/users/create",
            data=json.dumps({"username": "penguin", "password": password}).encode(),
            headers={
                "Content-Type": "application/json",
                "Authorization": "Basic " + base64.b64encode(f"admin:{admin_password}".encode()).decode(),
            },
        )
        urllib.request.urlopen(request, timeout=30).close()
        admin = {"MLFLOW_TRACKING_USERNAME": "admin", "MLFLOW_TRACKING_PASSWORD": admin_password}
        yield AuthServer(uri, root, "penguin", password, admin)
    finally:
        stop_process(server)


def credentials(server: AuthServer, password: str | None = None) -> dict[str, str]:
    return {"MLFLOW_TRACKING_USERNAME": server.user, "MLFLOW_TRACKING_PASSWORD": password or server.password}


def files_containing(secret: str, *roots: Path) -> list[Path]:
    needle = secret.encode()
    return [f for root in roots for f in root.rglob("*") if f.is_file() and needle in f.read_bytes()]


@pytest.mark.spark
@pytest.mark.slow
def test_every_step_logs_with_credentials_and_the_password_is_nowhere(
    auth_server, spark_cluster, experiment, monkeypatch
):
    params = {"eps": "0.5", "spark_master": spark_cluster.master_url}
    result = mlflow_run("main", experiment, auth_server.uri, timeout=900, env=credentials(auth_server), **params)
    assert result.returncode == 0, result.stderr[-4000:]

    for name, value in auth_server.admin.items():
        monkeypatch.setenv(name, value)
    client = MlflowClient(auth_server.uri)
    found = client.get_experiment_by_name(experiment)
    assert found is not None and found.name == experiment
    runs = client.search_runs([found.experiment_id], max_results=1000)
    assert result.run_id in {r.info.run_id for r in runs}  # the experiment holds the run `mlflow run` made
    assert all(r.info.status == "FINISHED" for r in runs)
    steps = [r for r in runs if r.data.tags.get("penguins.step")]
    assert sorted(r.data.tags["penguins.step"] for r in steps) == sorted(
        ["classify_sex", "tune_body_mass", "classify_species", "cluster_islands"]
    )
    eps_runs = [r for r in runs if r.data.tags.get("penguins.level") == "eps"]
    assert len(eps_runs) == 3  # logged by the cluster's executors, with the credentials
    assert spark_cluster.executor_dirs("cluster_islands")

    password = auth_server.password
    assert password not in result.stdout + result.stderr
    for run in runs:
        assert password not in json.dumps({**run.data.params, **run.data.tags})
    # The whole store: the runs' database and every artifact (requirements, conda files, reports, ...),
    # and the executors' own logs.
    executor_logs = [d for app in ("classify_species", "cluster_islands") for d in spark_cluster.executor_dirs(app)]
    assert files_containing(password, auth_server.root / "artifacts", *executor_logs) == []
    assert password.encode() not in (auth_server.root / "mlflow.db").read_bytes()


def test_wrong_credentials_are_one_line(auth_server, experiment):
    wrong = f"wrong-{secrets.token_hex(8)}"
    env = {**os.environ, "MLFLOW_TRACKING_URI": auth_server.uri, **credentials(auth_server, wrong)}
    step = [sys.executable, "-m", "steps.classify_sex"]
    done = subprocess.run(step, capture_output=True, text=True, env=env, cwd=PROJECT, timeout=120)
    assert done.returncode == 2
    (line,) = done.stderr.strip().splitlines()
    assert line.startswith("error: MLFLOW_TRACKING_USERNAME/MLFLOW_TRACKING_PASSWORD: ") and "refused" in line
    # Through `mlflow run`, MLflow itself creates the run first and is refused before the project starts.
    result = mlflow_run("classify_sex", experiment, auth_server.uri, timeout=120, env=credentials(auth_server, wrong))
    assert result.returncode != 0
    assert wrong not in done.stderr + result.stdout + result.stderr
