"""What MLproject declares, read without importing anything heavy.

`main` and the Databricks launcher read it before any step's imports.
"""

from __future__ import annotations

from pathlib import Path

from steps import PROJECT


def declared_parameters(project: Path = PROJECT) -> dict[str, dict[str, str]]:
    """Entry point -> the parameters MLproject declares for it, each with its default as text."""
    import yaml

    entry_points = yaml.safe_load((project / "MLproject").read_text())["entry_points"]
    return {
        name: {param: str(spec.get("default", "")) for param, spec in entry_point.get("parameters", {}).items()}
        for name, entry_point in entry_points.items()
    }
