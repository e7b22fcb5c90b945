"""Real services on loopback and the `mlflow run` command line, shared by tests/ and bench/."""
