"""The project's files agree with each other: MLproject and the steps, conda.yaml and the locks."""

from __future__ import annotations

import importlib
import re
import subprocess
import sys

import pytest
import yaml

from steps import PROJECT
from steps.cli.mlproject import declared_parameters
from steps.tracking.runner import DATA

MLPROJECT = yaml.safe_load((PROJECT / "MLproject").read_text())
ENTRY_POINTS = sorted(MLPROJECT["entry_points"])


def test_mlproject_uses_conda_yaml():
    assert MLPROJECT["conda_env"] == "conda.yaml"


@pytest.mark.parametrize("entry_point", ENTRY_POINTS)
def test_entry_point_declares_the_steps_parameters_and_defaults(entry_point):
    spec = MLPROJECT["entry_points"][entry_point]
    step = importlib.import_module(f"steps.{entry_point}")
    assert declared_parameters()[entry_point] == {p.name: p.default for p in (DATA, *step.PARAMS)}
    # Every parameter reaches the module, under its own flag.
    assert spec["command"].startswith(f"python -m steps.{entry_point} ")
    flags = dict(re.findall(r"(--[A-Za-z-]+) \{(\w+)\}", spec["command"]))
    assert flags == {p.flag: p.name for p in (DATA, *step.PARAMS)}


def test_pip_locks_agree_with_conda_yaml():
    done = subprocess.run([sys.executable, "scripts/lock.py", "--check"], cwd=PROJECT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
