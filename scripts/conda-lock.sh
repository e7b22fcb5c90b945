#!/usr/bin/env bash
# Generate conda-lock.yml from conda.yaml with conda-lock (pip install conda-lock).
# It needs the conda-forge channel and PyPI; run it where both are reachable.
# The project's own machines reach PyPI only, so conda-lock.yml is not in the repo yet:
# it is never written by hand.
set -euo pipefail
cd "$(dirname "$0")/.."
conda-lock lock --file conda.yaml --platform linux-64 --platform osx-64 --platform osx-arm64 --lockfile conda-lock.yml
echo "wrote conda-lock.yml; install it with: conda-lock install --name mlflow-penguins conda-lock.yml"
