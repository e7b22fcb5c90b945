"""Bad input through the real `mlflow run` CLI: one clear line, exit != 0, no run left RUNNING."""

from __future__ import annotations

import subprocess
import sys
import time

import pandas as pd
import pytest

from harness.servers import free_port
from steps import PROJECT
from steps.ml.data import bundled_csv_path
from tests.support import mlflow_run, runs_of, tracking_env

pytestmark = [pytest.mark.e2e]


@pytest.fixture(scope="module")
def bad_files(tmp_path_factory):
    root = tmp_path_factory.mktemp("bad-data")
    penguins = pd.read_csv(bundled_csv_path())
    penguins.drop(columns=["flipper_length_mm"]).to_csv(root / "no_flipper.csv", index=False)
    penguins.assign(bill_depth_mm="deep").to_csv(root / "text_depth.csv", index=False)
    (root / "empty.csv").write_text("")
    penguins.to_csv(root / "wrong_header.csv", index=False, header=[f"col{i}" for i in range(penguins.shape[1])])
    penguins.assign(body_mass_g=float("nan")).to_csv(root / "nan_mass.csv", index=False)
    penguins.assign(island="Biscoe").to_csv(root / "one_island.csv", index=False)
    return root


CASES = [
    # (entry point, params, parameter named in the error, words that say what is allowed)
    ("classify_sex", {"test_size": "1.5"}, "test_size", "between 0 and 1"),
    ("classify_sex", {"test_size": "0"}, "test_size", "between 0 and 1"),
    ("classify_sex", {"C": "abc"}, "C", "a number > 0"),
    ("classify_sex", {"max_iter": "0"}, "max_iter", "whole number >= 1"),
    ("tune_body_mass", {"alphas": ""}, "alphas", "list of one or more numbers"),
    ("tune_body_mass", {"alphas": "0.1,big"}, "alphas", "list of one or more numbers"),
    ("tune_body_mass", {"test_size": "1"}, "test_size", "between 0 and 1"),
    ("tune_body_mass", {"seed": "seven"}, "seed", "a whole number"),
    ("classify_sex", {"data": "/no/such/penguins.csv"}, "data", "no such file"),
    ("tune_body_mass", {"data": "{bad}/no_flipper.csv"}, "data", "missing column(s) flipper_length_mm"),
    ("classify_sex", {"data": "{bad}/text_depth.csv"}, "data", "non-numeric value(s) in column(s) bill_depth_mm"),
    ("classify_species", {"test_fraction": "1"}, "test_fraction", "between 0 and 1"),
    ("classify_species", {"max_iter": "0"}, "max_iter", "whole number >= 1"),
    ("classify_species", {"spark_master": "spark://127.0.0.1:{closed}"}, "spark_master", "cannot reach"),
    ("classify_species", {"spark_master": "sc://127.0.0.1:{closed}"}, "spark_master", "cannot reach"),
    ("classify_species", {"spark_master": "mesos://old"}, "spark_master", "local[*], local[N], spark://host:port"),
    ("cluster_islands", {"eps": "0"}, "eps", "numbers > 0"),
    ("cluster_islands", {"eps": "abc"}, "eps", "numbers > 0"),
    ("cluster_islands", {"eps": ""}, "eps", "list of one or more numbers"),
    ("cluster_islands", {"eps": "0.5,0.5"}, "eps", "distinct values"),
    ("cluster_islands", {"min_samples": "0"}, "min_samples", "whole number >= 1"),
    ("cluster_islands", {"group_by": "beak"}, "group_by", "no column 'beak' in the data (columns: species, island"),
    ("cluster_islands", {"group_by": "bill_depth_mm"}, "group_by", "must hold text or whole numbers, not decimals"),
    ("cluster_islands", {"features": "wingspan"}, "features", "no column(s) wingspan in the data (columns: species"),
    ("cluster_islands", {"features": "bill_depth_mm,species"}, "features", "column 'species' must be numeric"),
    ("cluster_islands", {"features": "island,body_mass_g"}, "features", "must not include the group_by column"),
    ("cluster_islands", {"features": "bill_depth_mm,,"}, "features", "list of distinct column names"),
    ("cluster_islands", {"data": "{bad}/nan_mass.csv"}, "features", "column 'body_mass_g' has no values"),
    ("cluster_islands", {"log_models": "some"}, "log_models", "one of all, best, none"),
    ("classify_sex", {"seed": "4.5"}, "seed", "a whole number"),
    ("classify_sex", {"data": "{bad}/empty.csv"}, "data", "is empty"),
    ("tune_body_mass", {"data": "{bad}/wrong_header.csv"}, "data", "missing column(s) species"),
    ("tune_body_mass", {"data": "{bad}/nan_mass.csv"}, "data", "no row has all of"),
    ("cluster_islands", {"data": "{bad}/one_island.csv"}, "group_by", "two or more groups"),
    ("main", {"register": "maybe"}, "register", "one of false, true, force"),
    ("main", {"eps": "0.5,-1"}, "eps", "numbers > 0"),
    ("main", {"spark_master": "mesos://old"}, "spark_master", "local[*], local[N], spark://host:port"),
    ("main", {"group_by": "beak"}, "group_by", "no column 'beak' in the data"),
    ("main", {"register": "true", "log_models": "none"}, "log_models", "must be all or best with register=true"),
    ("score", {"model": "", "output": "{bad}/scored.parquet"}, "model", "must be a model URI (models:/<name>@<alias>"),
    ("score", {"model": "models:/no-such-model@champion", "output": "{bad}/scored.parquet"}, "model", "cannot load"),
    ("score", {"model": "models:/m/1", "output": "/no/such/folder/scored.parquet"}, "output", "no folder '/no/such"),
    ("score", {"model": "models:/m/1", "output": "{bad}/empty.csv"}, "output", "exists; give -P overwrite=true"),
    ("score", {"model": "models:/m/1", "output": "{bad}/s.csv", "overwrite": "perhaps"}, "overwrite", "true or false"),
]


@pytest.mark.parametrize(("entry_point", "params", "parameter", "allowed"), CASES, ids=lambda v: str(v)[:40])
def test_bad_input_fails_cleanly(entry_point, params, parameter, allowed, bad_files, tracking_uri, experiment):
    params = {k: v.replace("{bad}", str(bad_files)).replace("{closed}", str(free_port())) for k, v in params.items()}
    started = time.monotonic()
    result = mlflow_run(entry_point, experiment, tracking_uri, timeout=120, **params)
    assert time.monotonic() - started < 60
    assert result.returncode != 0
    (line,) = result.error_lines  # exactly one error line, no traceback
    assert line.startswith(f"error: {parameter}: ") and allowed in line
    assert "Traceback" not in result.stderr
    (run,) = runs_of(experiment)
    assert run.info.status == "FAILED"
    assert parameter in run.data.tags["error"]


@pytest.mark.parametrize("step", ["classify_sex", "main"])
def test_an_unreachable_tracking_server_is_one_line_in_seconds(step, tmp_path):
    # `mlflow run` itself creates the run before any project code, with MLflow's own retries
    # (about 4 minutes, then a traceback): the steps' own check shows in a direct start.
    dead = f"http://127.0.0.1:{free_port()}"
    started = time.monotonic()
    command = [sys.executable, "-m", f"steps.{step}"]
    done = subprocess.run(command, capture_output=True, text=True, cwd=PROJECT, env=tracking_env(dead), timeout=120)
    assert time.monotonic() - started < 60
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        f"error: MLFLOW_TRACKING_URI: cannot reach {dead} (Connection refused); is the tracking server running?"
    ]
