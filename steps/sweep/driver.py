"""The driver side of the sweep: run the grouped job on Spark, show progress, keep one run per group and eps."""

from __future__ import annotations

import sys
import time

import pandas as pd

from steps.spark.session import ship_project_code
from steps.sweep.config import JOB, LEVEL, RESULT_SCHEMA, SweepConfig
from steps.sweep.task import group_task
from steps.tracking.runner import end_unfinished_runs, interrupt_behind


def delete_unnamed_runs(client, config: SweepConfig, results: pd.DataFrame) -> int:
    """Delete every group and eps run of the job that `results` (the job's table) does not name.

    Returns how many. Those runs were half-logged by a failed attempt, created twice (the
    server carried out a create whose answer was lost, and the client sent it again), or
    logged by a speculative copy of a task whose other copy won."""
    kept = {*results["run_id"], *results["group_run_id"]}
    stray, token = [], None
    while True:
        of_this_job = f"tags.`{JOB}` = '{config.job_run_id}'"
        page = client.search_runs([config.experiment_id], of_this_job, max_results=1000, page_token=token)
        stray += [r.info.run_id for r in page if r.info.run_id not in kept]
        token = page.token
        if not token:
            break
    for run_id in stray:
        client.delete_run(run_id)
    return len(stray)


def count_finished_groups(client, config: SweepConfig) -> int:
    found = client.search_runs(
        [config.experiment_id],
        filter_string=f"tags.`{JOB}` = '{config.job_run_id}' AND tags.`{LEVEL}` = 'group' "
        "AND attributes.status = 'FINISHED'",
        max_results=5000,
    )
    return len(found)


def run_sweep(spark, rows: pd.DataFrame, config: SweepConfig, progress_every_s: float = 2.0) -> pd.DataFrame:
    """The grouped sweep on Spark; prints progress (groups done of total, elapsed) while it runs."""
    import threading

    from mlflow.tracking import MlflowClient

    ship_project_code(spark)
    total = rows[config.group_by].nunique()
    # One partition per group (up to a cap), and no coalescing them back into one task.
    spark.conf.set("spark.sql.shuffle.partitions", str(max(1, min(total, 64))))
    spark.conf.set("spark.sql.adaptive.coalescePartitions.enabled", "false")
    frame = spark.createDataFrame(rows)
    started = time.monotonic()
    stop = threading.Event()

    def report() -> None:
        client, last = MlflowClient(config.tracking_uri), -1
        while not stop.wait(progress_every_s):
            try:
                done = count_finished_groups(client, config)
            except Exception:  # progress is best effort; the sweep itself reports real errors
                continue
            if done != last:
                print(
                    f"cluster_islands: {done}/{total} groups done, {time.monotonic() - started:.1f} s", file=sys.stderr
                )
                last = done

    reporter = threading.Thread(target=report, daemon=True)
    reporter.start()
    try:
        results = frame.groupBy(config.group_by).applyInPandas(group_task(config), RESULT_SCHEMA).toPandas()
    except BaseException as error:
        # No group or eps run of a failed or stopped job may stay RUNNING, including those
        # that tasks Spark is still cancelling create in the next seconds.
        if interrupt_behind(error) is not None:
            status, reason = "KILLED", "the sweep was stopped before this run was complete"
        else:
            status, reason = "FAILED", "the Spark job of this sweep failed before this run was complete"
        end_unfinished_runs(config.experiment_id, config.job_run_id, status, reason, quiet_s=3.0)
        raise
    finally:
        stop.set()
        reporter.join()
    print(f"cluster_islands: {total}/{total} groups done, {time.monotonic() - started:.1f} s", file=sys.stderr)
    if spark.conf.get("spark.speculation", "false").lower() == "true":
        # Spark kills a losing speculative copy once the other copy has won; its Python
        # worker may log for up to spark.python.task.killTimeout (2 s) more.
        time.sleep(3.0)
    delete_unnamed_runs(MlflowClient(config.tracking_uri), config, results)
    return results.sort_values(["group", "eps"]).reset_index(drop=True)
