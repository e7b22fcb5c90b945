"""What `main` adds to the steps: the step cache, the steps' runs under main, the registry, the report."""
