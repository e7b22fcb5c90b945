"""Real Spark processes for the tests, from the pip pyspark: a standalone master with
two workers, and a Spark Connect server. All on 127.0.0.1, logs and work dirs in a
temp dir (never in site-packages), stopped by PID."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pyspark

from harness.servers import free_port, start_process, stop_process

SPARK_HOME = Path(pyspark.__file__).parent


def spark_env(root: Path) -> dict[str, str]:
    """What every Spark process here needs: loopback only, our Python, dirs outside site-packages."""
    return {
        **os.environ,
        "SPARK_HOME": str(SPARK_HOME),
        "SPARK_LOCAL_IP": "127.0.0.1",
        "SPARK_LOG_DIR": str(root / "logs"),
        "SPARK_PID_DIR": str(root / "pids"),
        "SPARK_NO_DAEMONIZE": "1",  # the scripts stay in the foreground: we own their PIDs
        "PYSPARK_PYTHON": sys.executable,
    }


@dataclass
class Cluster:
    master_url: str
    web_url: str
    root: Path

    def state(self) -> dict:
        with urllib.request.urlopen(f"{self.web_url}/json/", timeout=5) as response:
            return json.load(response)

    def executor_dirs(self, app_name: str) -> list[Path]:
        """The executor directories workers made for applications named `app_name`."""
        app_ids = [a["id"] for a in self.state()["completedapps"] + self.state()["activeapps"] if a["name"] == app_name]
        return [d for app in app_ids for d in self.root.glob(f"work-*/{app}/*") if d.is_dir()]


def start_cluster(root: Path, workers: int = 2) -> tuple[Cluster, list[subprocess.Popen]]:
    env = spark_env(root)
    port, web_port = free_port(), free_port()
    spark_class = str(SPARK_HOME / "bin" / "spark-class")
    master = [spark_class, "org.apache.spark.deploy.master.Master", "--host", "127.0.0.1", "--port", str(port)]
    processes = [start_process([*master, "--webui-port", str(web_port)], root / "master.log", env=env)]
    cluster = Cluster(f"spark://127.0.0.1:{port}", f"http://127.0.0.1:{web_port}", root)
    for n in range(workers):
        work_dir = root / f"work-{n}"
        work_dir.mkdir()
        worker = [spark_class, "org.apache.spark.deploy.worker.Worker", cluster.master_url, "--host", "127.0.0.1"]
        resources = ["--cores", "1", "--memory", "1g", "--work-dir", str(work_dir), "--webui-port", str(free_port())]
        processes.append(start_process([*worker, *resources], root / f"worker-{n}.log", env=env))
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        dead = [p for p in processes if p.poll() is not None]
        if dead:
            raise RuntimeError(f"a Spark daemon exited: {dead[0].args[:2]}; logs in {root}")
        try:
            alive = [w for w in cluster.state()["workers"] if w["state"] == "ALIVE"]
            if len(alive) == workers:
                return cluster, processes
        except OSError:
            pass
        time.sleep(0.5)
    for process in processes:
        stop_process(process)
    raise TimeoutError(f"{workers} workers did not register within 120 s; logs in {root}")


def start_connect_server(root: Path) -> tuple[str, subprocess.Popen]:
    """sbin/start-connect-server.sh in the foreground, on a free port of 127.0.0.1."""
    port = free_port()
    env = spark_env(root)
    conf = {
        "spark.connect.grpc.binding.port": port,
        "spark.connect.grpc.binding.address": "127.0.0.1",
        "spark.sql.shuffle.partitions": 4,
    }
    cmd = ["bash", str(SPARK_HOME / "sbin" / "start-connect-server.sh"), "--master", "local[2]"]
    cmd += [arg for key, value in conf.items() for arg in ("--conf", f"{key}={value}")]
    process = start_process(cmd, root / "connect.log", env=env)
    deadline = time.monotonic() + 120
    url = f"sc://127.0.0.1:{port}"
    from steps.spark.masters import ensure_reachable

    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the Spark Connect server exited: {(root / 'connect.log').read_text()[-3000:]}")
        try:
            ensure_reachable(url)
            return url, process
        except ValueError:
            time.sleep(0.5)
    stop_process(process)
    raise TimeoutError(f"Spark Connect did not listen within 120 s; log in {root}")
