"""`mlflow run <git-url> -v <commit>`: a real `git daemon` on loopback serves a bare clone of this repo."""

from __future__ import annotations

import socket
import subprocess
import time

import pytest

from harness.servers import free_port, start_process, stop_process
from steps import PROJECT
from tests.support import child_runs, mlflow_run, runs_of

pytestmark = [pytest.mark.e2e, pytest.mark.spark]

GIT_COMMIT = "mlflow.source.git.commit"


@pytest.fixture(scope="module")
def git_url(tmp_path_factory):
    """git://127.0.0.1:<port>/penguins.git, a bare clone of this repository's HEAD; yields (url, commit)."""
    root = tmp_path_factory.mktemp("git-daemon")
    subprocess.run(["git", "clone", "--quiet", "--bare", str(PROJECT), str(root / "penguins.git")], check=True)
    commit = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=PROJECT, capture_output=True, text=True, check=True
    ).stdout.strip()
    port = free_port()
    listen = ["--listen=127.0.0.1", f"--port={port}", "--reuseaddr"]
    serve = [f"--base-path={root}", "--export-all", "--informative-errors", str(root)]
    daemon = start_process(["git", "daemon", *listen, *serve], root / "daemon.log")
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        yield f"git://127.0.0.1:{port}/penguins.git", commit
    finally:
        stop_process(daemon)


def test_a_step_runs_from_the_git_url_at_a_commit(git_url, tracking_uri, experiment):
    url, commit = git_url
    result = mlflow_run("cluster_islands", experiment, tracking_uri, project=url, version=commit, eps="0.5")
    assert result.returncode == 0, result.stderr[-3000:]
    job = result.run()
    assert job.info.status == "FINISHED"
    assert job.data.tags[GIT_COMMIT] == commit
    runs = runs_of(experiment)
    assert len(runs) == 1 + 3 + 3  # the job, 3 islands, one eps each
    assert {r.data.tags.get(GIT_COMMIT) for r in runs} == {commit}


@pytest.mark.slow
def test_main_from_the_git_url_tags_every_child_with_the_commit(git_url, tracking_uri, experiment):
    url, commit = git_url
    result = mlflow_run("main", experiment, tracking_uri, timeout=900, project=url, version=commit, eps="0.5")
    assert result.returncode == 0, result.stderr[-3000:]
    main = result.run()
    assert main.data.tags[GIT_COMMIT] == commit
    assert main.data.tags["penguins.code_version"] == f"git:{commit}"  # a clean checkout: the commit is the version
    assert len(child_runs(main)) == 4
    runs = runs_of(experiment)
    assert all(r.info.status == "FINISHED" for r in runs)
    steps = [r for r in runs if r.data.tags.get("penguins.step")]
    assert len(steps) == 4
    assert {r.data.tags.get(GIT_COMMIT) for r in runs if r.data.tags.get("mlflow.parentRunId")} == {commit}
