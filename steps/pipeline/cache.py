"""The step cache's identity: what a step computed from, as one key.

A step run is reusable when its entry point, its effective parameters, the code and the
data all match. Parameters are compared as normalised text (MLflow stores every param as
a string, so '0.5', '0.50' and '[0.5]' must compare equal), with the step's defaults
filled in. `data` is left out of the parameters: the data set's content digest stands
for it, so the same table under another path is the same input.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
from collections.abc import Mapping
from pathlib import Path

# The files that decide what a step computes, for a tree that is not a clean git checkout.
CODE_FILES = ("MLproject", "conda.yaml", "requirements.lock", "steps/**/*.py", "steps/**/*.properties")


def effective_params(declared: Mapping[str, str], given: Mapping[str, str]) -> dict[str, str]:
    """What a step runs with: every parameter it declares (name -> default) but `data`.

    `given`: the canonical text (params.as_text) of each value passed on; the others keep
    their declared defaults, which the code version covers as well."""
    return {name: given.get(name, default) for name, default in declared.items() if name != "data"}


def cache_key(entry_point: str, params: Mapping[str, str], code_version: str, data_digest: str) -> str:
    identity = {"entry_point": entry_point, "params": dict(params), "code": code_version, "data": data_digest}
    return hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()


def content_hash(project: Path) -> str:
    digest = hashlib.sha256()
    files = sorted({f for pattern in CODE_FILES for f in project.glob(pattern) if f.is_file()})
    for file in files:
        digest.update(file.relative_to(project).as_posix().encode() + b"\0" + file.read_bytes() + b"\0")
    return digest.hexdigest()


def code_version(project: Path) -> str:
    """`git:<commit>` when the project is a clean git checkout, else `sha256:<hash of CODE_FILES>`."""

    def git(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(["git", *args], cwd=project, capture_output=True, text=True, timeout=60)

    try:
        status = git("status", "--porcelain")
        if status.returncode == 0 and not status.stdout.strip():
            return "git:" + git("rev-parse", "HEAD").stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        pass  # no git here (a Databricks workspace, an unpacked archive): hash the files
    return "sha256:" + content_hash(project)
