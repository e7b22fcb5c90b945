"""What the sweep shows a person: artifact names for any group name, and its progress line."""

from __future__ import annotations

import pytest

from steps.sweep.config import file_name
from steps.sweep.driver import progress_line


@pytest.mark.parametrize("group", ["Biscoe", "site-0001", "7", "a_b.c"])
def test_a_plain_group_name_is_its_own_file_name(group):
    assert file_name(group) == group


@pytest.mark.parametrize("group", ["north field", "a/b", "..", "Zürich ✓", "g" * 200, "it's", ""])
def test_any_other_name_becomes_a_short_safe_name_of_its_own(group):
    name = file_name(group)
    assert len(name) <= 71 and "/" not in name and name not in (".", "..", "")
    assert set(name) <= set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")
    assert file_name(group + " ") != name  # names that differ keep apart


def test_progress_shows_groups_done_rate_and_time_left():
    assert (
        progress_line(40, 1000, 12.0) == "cluster_islands: 40/1000 groups done, 12.0 s, 3.3 groups/s, about 288 s left"
    )
    assert progress_line(0, 10, 2.0) == "cluster_islands: 0/10 groups done, 2.0 s"
    assert progress_line(10, 10, 5.25) == "cluster_islands: 10/10 groups done, 5.2 s"
