"""The main run's one-page report, as Markdown and as self-contained HTML.

Pure rendering: the glue in steps/main.py gathers what each step logged into
`StepSummary`s (and copies the plots next to the report); this turns them into text.
"""

from __future__ import annotations

import base64
import html
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class StepSummary:
    entry_point: str
    run_id: str  # the run that computed the results (for a reused step, the earlier run)
    state: str  # "fresh" or "reused"
    link: str  # where to open that run: a UI URL, or runs:/<id>
    metrics: dict[str, float]
    models: dict[str, str]  # label -> model URI
    plots: list[Path] = field(default_factory=list)  # PNG files, relative to the report's directory
    table: list[dict[str, str]] = field(default_factory=list)  # extra rows, e.g. each group's chosen eps
    registered: list[dict[str, str]] = field(default_factory=list)  # the champion/challenger table's rows


def _number(value: float) -> str:
    return f"{value:.4g}"


def _tables(s: StepSummary) -> list[tuple[str, list[str], list[dict[str, str]]]]:
    """The step's tables to show, each as (heading, columns, rows); the step's own table has no heading."""
    shown = (("Champion and challenger", s.registered), ("", s.table))
    return [(heading, list(rows[0]), rows) for heading, rows in shown if rows]


def markdown(title: str, summaries: list[StepSummary]) -> str:
    lines = [f"# {title}", "", "| step | results | run | key metrics |", "|---|---|---|---|"]
    for s in summaries:
        shown = ", ".join(f"{k} {_number(v)}" for k, v in sorted(s.metrics.items()))
        lines.append(f"| {s.entry_point} | {s.state} | [{s.run_id[:8]}]({s.link}) | {shown} |")
    for s in summaries:
        lines += ["", f"## {s.entry_point} ({s.state})", "", f"Run: [{s.run_id}]({s.link})", ""]
        lines += [f"- {label}: `{uri}`" for label, uri in s.models.items()]
        for heading, columns, rows in _tables(s):
            lines += ["", *([f"### {heading}", ""] if heading else [])]
            lines += ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
            lines += ["| " + " | ".join(row[c] for c in columns) + " |" for row in rows]
        lines += ["", *(f"![{p.stem}]({p.as_posix()})" for p in s.plots)]
    return "\n".join(lines) + "\n"


def html_page(title: str, summaries: list[StepSummary], root: Path) -> str:
    """The same content, with the plots inlined so the page opens anywhere (also in MLflow's viewer)."""
    e = html.escape
    parts = [
        f"<!doctype html><html><head><meta charset='utf-8'><title>{e(title)}</title>",
        "<style>body{font-family:sans-serif;max-width:1100px;margin:2em auto}table{border-collapse:collapse}"
        "td,th{border:1px solid #ccc;padding:3px 8px;text-align:left}img{max-width:100%}"
        ".reused{color:#666}.fresh{color:#070}</style></head><body>",
        f"<h1>{e(title)}</h1><table><tr><th>step</th><th>results</th><th>run</th><th>key metrics</th></tr>",
    ]
    for s in summaries:
        shown = ", ".join(f"{e(k)} {_number(v)}" for k, v in sorted(s.metrics.items()))
        parts.append(
            f"<tr><td>{e(s.entry_point)}</td><td class='{e(s.state)}'>{e(s.state)}</td>"
            f"<td><a href='{e(s.link)}'>{e(s.run_id[:8])}</a></td><td>{shown}</td></tr>"
        )
    parts.append("</table>")
    for s in summaries:
        parts.append(f"<h2>{e(s.entry_point)} <span class='{e(s.state)}'>({e(s.state)})</span></h2><ul>")
        parts.append(f"<li>run <a href='{e(s.link)}'>{e(s.run_id)}</a></li>")
        parts += [f"<li>{e(label)}: <code>{e(uri)}</code></li>" for label, uri in s.models.items()]
        parts.append("</ul>")
        for heading, columns, rows in _tables(s):
            parts += [f"<h3>{e(heading)}</h3>"] if heading else []
            parts.append("<table><tr>" + "".join(f"<th>{e(c)}</th>" for c in columns) + "</tr>")
            parts += ["<tr>" + "".join(f"<td>{e(row[c])}</td>" for c in columns) + "</tr>" for row in rows]
            parts.append("</table>")
        for plot in s.plots:
            data = base64.b64encode((root / plot).read_bytes()).decode()
            parts.append(f"<p><img alt='{e(plot.stem)}' src='data:image/png;base64,{data}'></p>")
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"
