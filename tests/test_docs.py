"""The README and docs/ as a reader meets them: the README short, its two commands on its first screen, and
every link between them leading to a file and heading that exist."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from steps import PROJECT

README = PROJECT / "README.md"
DOCS = [README, *sorted((PROJECT / "docs").glob("*.md"))]
LINK = re.compile(r"\]\(([^)\s]+)\)")
FIRST_SCREEN = 30  # lines


def anchor(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces as hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def anchors(path: Path) -> set[str]:
    text = re.sub(r"```.*?```", "", path.read_text(), flags=re.S)  # a `# comment` in a code block is no heading
    return {anchor(line.lstrip("#")) for line in text.splitlines() if line.startswith("#")}


def test_the_readme_is_short_and_opens_with_its_two_commands():
    lines = README.read_text().splitlines()
    assert len(lines) <= 200
    commands = [line for line in lines[:FIRST_SCREEN] if line.startswith("python3 -m venv .venv")]
    assert commands == [
        "python3 -m venv .venv && . .venv/bin/activate && pip install -q --require-hashes -r requirements.lock"
        " && mlflow run . --env-manager local",
        "python3 -m venv .venv && . .venv/bin/activate && pip install -q --require-hashes -r requirements-dev.lock"
        " && python -m pytest",
    ]


@pytest.mark.parametrize("page", DOCS, ids=lambda p: p.name)
def test_every_link_leads_to_a_file_and_heading_that_exist(page):
    broken = []
    for target in LINK.findall(page.read_text()):
        if re.match(r"[a-z]+:", target):
            continue  # a URL: not ours to check offline
        file, _, fragment = target.partition("#")
        linked = (page.parent / file).resolve() if file else page
        if not linked.exists() or (fragment and fragment not in anchors(linked)):
            broken.append(target)
    assert broken == []
