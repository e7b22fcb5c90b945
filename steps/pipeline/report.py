"""main's report: what each step logged, gathered into one page (report/report.html and report.md)."""

from __future__ import annotations

import shutil
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlparse

import mlflow
from mlflow.store.artifact.artifact_repository_registry import get_artifact_repository

from steps.pipeline import report_page
from steps.pipeline.step_runs import StepResults
from steps.sweep.config import CLUSTERS_FIGURE, GROUP, METRICS_FIGURE, file_name
from steps.tracking.server import absolute_tracking_uri

UI_ADDRESS = "http://127.0.0.1:5000"  # where `mlflow ui` serves by default


def run_page(run) -> str:
    """The run's page in the UI, relative to the UI's address."""
    return f"/#/experiments/{run.info.experiment_id}/runs/{run.info.run_id}"


def run_link(run) -> str:
    uri = mlflow.get_tracking_uri()
    if urlparse(uri).scheme in ("http", "https"):
        return uri.rstrip("/") + run_page(run)
    return f"runs:/{run.info.run_id}"


def where_to_look(run, uri: str) -> list[str]:
    """What main prints at its end: where the report is and how to open the runs of tracking store `uri`."""
    lines = [f"main: report: {run.info.artifact_uri.rstrip('/')}/report/report.html"]
    if urlparse(uri).scheme in ("http", "https"):
        lines.append(f"main: open the run: {uri.rstrip('/')}{run_page(run)}")
    elif urlparse(uri).scheme in ("sqlite", "file", ""):
        store = absolute_tracking_uri(uri) if uri.startswith("sqlite:") else Path(uri.removeprefix("file:")).resolve()
        lines.append(f"main: open the runs: mlflow ui --backend-store-uri {store}")
        lines.append(f"main: then browse to {UI_ADDRESS}{run_page(run)}")
    return lines


def summarise(step: StepResults, root: Path, registered: list) -> report_page.StepSummary:
    """What the report shows of one step; its plots are downloaded under `root`."""
    outcome, source = step.outcome, step.run
    # The run's own artifact store: by run id, every list and download would fetch the run again.
    artifacts = get_artifact_repository(source.info.artifact_uri)
    folder = root / outcome.entry_point
    folder.mkdir()
    plots = []
    for item in artifacts.list_artifacts():
        if item.path.endswith(".png"):
            plots.append(Path(artifacts.download_artifacts(item.path, dst_path=str(folder))).relative_to(root))
    table = []
    for group in step.groups:  # each group's metrics by eps, then its clustering at the chosen eps
        name = group.data.tags.get(GROUP, "")
        figures = {
            "plots": METRICS_FIGURE,
            **({"clusters": CLUSTERS_FIGURE} if "best_run_id" in group.data.tags else {}),
        }
        for subfolder, figure in figures.items():
            plots.append(_download(group, figure, folder / subfolder / f"{file_name(name)}.png").relative_to(root))
        select_by = group.data.params.get("select_by", "")
        value = group.data.metrics.get(select_by)
        row = {"group": name, "best eps": group.data.tags.get("best_eps", "")}
        row[select_by] = "" if value is None else f"{value:.4g}"
        row["model"] = group.data.tags.get("best_model_uri", "")
        table.append(row)
    models = {"model": source.data.tags["model_uri"]} if "model_uri" in source.data.tags else {}
    return report_page.StepSummary(
        entry_point=outcome.entry_point,
        run_id=outcome.source_run_id,
        state=outcome.state,
        link=run_link(source),
        metrics=dict(source.data.metrics),
        models=models,
        plots=sorted(plots, key=lambda plot: (plot.stem, plot.parent.name != "plots")),
        table=table,
        registered=[registration.row() for registration in registered],
    )


def _download(run, artifact: str, to: Path) -> Path:
    """One artifact of `run`, saved as `to`."""
    to.parent.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory() as download:
        shutil.move(get_artifact_repository(run.info.artifact_uri).download_artifacts(artifact, download), to)
    return to


def log_report(results: list[StepResults], registered: dict[str, list]) -> None:
    """`registered`: each step's registrations (steps/pipeline/registry.py), by entry point."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        with ThreadPoolExecutor(len(results)) as pool:  # mostly waiting on downloads: one thread per step
            summaries = list(pool.map(lambda r: summarise(r, root, registered.get(r.outcome.entry_point, [])), results))
        title = f"mlflow-penguins: main run {mlflow.active_run().info.run_id}"
        (root / "report.md").write_text(report_page.markdown(title, summaries))
        (root / "report.html").write_text(report_page.html_page(title, summaries, root))
        mlflow.log_artifacts(tmp, "report")
