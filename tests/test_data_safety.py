"""The steps never modify the data they read, and write nothing into the project tree when a
tracking URI is set (only the embedded store, ./mlflow.db and ./mlruns, when none is)."""

from __future__ import annotations

import hashlib
import shutil
import subprocess

import pandas as pd
import pytest

from steps import PROJECT
from steps.ml.data import bundled_csv_path
from tests.support import mlflow_run

pytestmark = [pytest.mark.e2e, pytest.mark.spark, pytest.mark.slow]


def git_files(*options: str) -> list[str]:
    """`git ls-files <options>` in the project: paths relative to it."""
    listed = subprocess.run(["git", "ls-files", *options], cwd=PROJECT, capture_output=True, text=True, check=True)
    return listed.stdout.split()


def digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def project_files() -> set[str]:
    """Every file in the tree that git does not ignore (tracked or not), with its content digest."""
    listed = git_files("--cached", "--others", "--exclude-standard")
    return {f"{name}:{digest(PROJECT / name)}" for name in listed if (PROJECT / name).is_file()}


def ignored_files() -> set[str]:
    """Files git ignores, outside the virtualenv and caches: where a stray write would hide."""
    listed = git_files("--others", "--ignored", "--exclude-standard")
    return {
        n for n in listed if not n.startswith((".venv/", ".pytest_cache/", ".ruff_cache/")) and "__pycache__" not in n
    }


def test_steps_leave_the_data_and_the_project_tree_alone(tracking_uri, experiment, tmp_path):
    user_csv = tmp_path / "penguins.csv"
    shutil.copy(bundled_csv_path(), user_csv)
    user_parquet = tmp_path / "penguins.parquet"
    pd.read_csv(user_csv).to_parquet(user_parquet)
    before = {p: digest(p) for p in (bundled_csv_path(), user_csv, user_parquet)}
    tree, ignored = project_files(), ignored_files()

    data_of = {
        "classify_sex": user_csv,
        "tune_body_mass": user_parquet,
        "cluster_islands": user_csv,
        "classify_species": "",  # the bundled data set
    }
    for entry_point, data in data_of.items():
        params = {"eps": "0.5"} if entry_point == "cluster_islands" else {}
        result = mlflow_run(entry_point, experiment, tracking_uri, data=str(data), **params)
        assert result.returncode == 0, result.stderr[-3000:]

    assert {p: digest(p) for p in before} == before
    assert project_files() == tree
    assert ignored_files() == ignored  # no spark-warehouse, derby.log, mlruns/, ... left behind
