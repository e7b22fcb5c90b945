"""Searching runs past the server's page of 1,000: a sweep can have more groups and more eps runs."""

from __future__ import annotations


def every_run(client, experiment_ids: list[str], filter_string: str, page_size: int = 1000) -> list:
    """Every run of `experiment_ids` that `filter_string` matches, page after page."""
    runs, token = [], None
    while True:
        page = client.search_runs(experiment_ids, filter_string, max_results=page_size, page_token=token)
        runs += page
        token = page.token
        if not token:
            return runs
