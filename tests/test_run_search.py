"""Run searches that must see every run, past a page of the store's answer: a sweep can have more than
1,000 groups. Against a real SQLite store, pages of 2 runs standing in for pages of 1,000."""

from __future__ import annotations

from mlflow.tracking import MlflowClient

from steps.tracking.runs import every_run


def test_every_run_reads_page_after_page(tmp_path):
    client = MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")
    experiment = client.create_experiment("search")
    made = {client.create_run(experiment, tags={"kind": "group"}).info.run_id for _ in range(5)}
    client.create_run(experiment, tags={"kind": "other"})

    found = every_run(client, [experiment], "tags.kind = 'group'", page_size=2)

    assert sorted(r.info.run_id for r in found) == sorted(made)
