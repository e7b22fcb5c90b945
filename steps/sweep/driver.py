"""The driver side of the sweep: run the grouped job on Spark, show progress, keep one run per group and eps."""

from __future__ import annotations

import sys
import time

import pandas as pd

from steps.spark.session import ship_project_code
from steps.sweep.config import JOB, LEVEL, RESULT_SCHEMA, SweepConfig
from steps.sweep.task import group_task, spark_columns
from steps.tracking.runner import end_unfinished_runs, interrupt_behind
from steps.tracking.runs import every_run


def delete_unnamed_runs(client, config: SweepConfig, results: pd.DataFrame) -> int:
    """Delete every group and eps run of the job that `results` (the job's table) does not name.

    Returns how many. Those runs were half-logged by a failed attempt, created twice (the
    server carried out a create whose answer was lost, and the client sent it again), or
    logged by a speculative copy of a task whose other copy won."""
    kept = {*results["run_id"], *results["group_run_id"]}
    of_this_job = f"tags.`{JOB}` = '{config.job_run_id}'"
    stray = [r.info.run_id for r in every_run(client, [config.experiment_id], of_this_job) if r.info.run_id not in kept]
    for run_id in stray:
        client.delete_run(run_id)
    return len(stray)


class FinishedGroups:
    """How many group runs of the job are FINISHED, asking the server only for those that finished
    since the last ask: a poll costs the same at 10 groups as at 10,000."""

    def __init__(self, client, config: SweepConfig):
        self.client, self.config = client, config
        self.seen: set[str] = set()
        self.since = 0  # the latest end time seen, ms (from the runs: executors' clocks may differ from ours)

    def count(self) -> int:
        query = (
            f"tags.`{JOB}` = '{self.config.job_run_id}' AND tags.`{LEVEL}` = 'group' "
            f"AND attributes.status = 'FINISHED' AND attributes.end_time >= {self.since}"
        )
        for run in self.client.search_runs([self.config.experiment_id], query, max_results=5000):
            self.seen.add(run.info.run_id)
            self.since = max(self.since, run.info.end_time or 0)
        return len(self.seen)


def progress_line(done: int, total: int, elapsed: float) -> str:
    """`cluster_islands: 40/1000 groups done, 12.0 s, 3.3 groups/s, about 290 s left`."""
    line = f"cluster_islands: {done}/{total} groups done, {elapsed:.1f} s"
    if 0 < done < total:
        rate = done / elapsed
        line += f", {rate:.1f} groups/s, about {(total - done) / rate:.0f} s left"
    return line


def run_sweep(spark, rows: pd.DataFrame, config: SweepConfig, progress_every_s: float = 2.0) -> pd.DataFrame:
    """The grouped sweep on Spark; prints progress (groups done of total, elapsed) while it runs."""
    import threading

    from mlflow.tracking import MlflowClient

    ship_project_code(spark)
    total = rows[config.group_by].nunique()
    # One partition per group (up to a cap), and no coalescing them back into one task.
    spark.conf.set("spark.sql.shuffle.partitions", str(max(1, min(total, 64))))
    spark.conf.set("spark.sql.adaptive.coalescePartitions.enabled", "false")
    # Spark sees positional column names: a user's names may hold dots or backticks, which it would parse.
    columns = [config.group_by, *config.features]
    frame = spark.createDataFrame(rows.loc[:, columns].set_axis(spark_columns(len(columns)), axis=1))
    started = time.monotonic()
    stop = threading.Event()

    def report() -> None:
        finished, last = FinishedGroups(MlflowClient(config.tracking_uri), config), -1
        while not stop.wait(progress_every_s):
            try:
                done = finished.count()
            except Exception:  # progress is best effort; the sweep itself reports real errors
                continue
            if done != last:
                print(progress_line(done, total, time.monotonic() - started), file=sys.stderr)
                last = done

    reporter = threading.Thread(target=report, daemon=True)
    reporter.start()
    try:
        results = frame.groupBy(frame.columns[0]).applyInPandas(group_task(config), RESULT_SCHEMA).toPandas()
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
    print(progress_line(total, total, time.monotonic() - started), file=sys.stderr)
    if spark.conf.get("spark.speculation", "false").lower() == "true":
        # Spark kills a losing speculative copy once the other copy has won; its Python
        # worker may log for up to spark.python.task.killTimeout (2 s) more.
        time.sleep(3.0)
    delete_unnamed_runs(MlflowClient(config.tracking_uri), config, results)
    return results.sort_values(["group", "eps"]).reset_index(drop=True)
