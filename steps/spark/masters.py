"""Where Spark may run (`spark_master`), and what each cluster manager needs before Spark starts.

Checked before any JVM starts, each a one-line ParamError naming `spark_master`
(check_cluster_needs), instead of Spark retrying for minutes or ending in a Java traceback:

- a `spark://`, `sc://` or `k8s://` endpoint must accept a TCP connection within seconds;
- `yarn`: HADOOP_CONF_DIR or YARN_CONF_DIR must name a directory holding yarn-site.xml
  (unless $SPARK_CONF_DIR/spark-env.sh sets one: Spark reads that itself);
- `k8s://`: a container image for the executors must be set in the Spark confs a user can
  give this project (user_confs).
"""

from __future__ import annotations

import itertools
import os
import re
import shlex
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import urlparse

from steps.cli.params import ParamError, invalid
from steps.cli.probe import unreachable

LOCAL_MASTER = re.compile(r"^local(\[(\*|\d+)(,\s*\d+)?\])?$")
CLUSTER_MASTER = re.compile(r"^(spark|sc|k8s)://\S+$|^yarn$")
ALLOWED = "local[*], local[N], spark://host:port, sc://host:port, yarn or k8s://..."
DEFAULT_PORTS = {"spark": 7077, "sc": 15002, "https": 443, "http": 80}
KUBERNETES = "k8s://"
YARN_CONF_VARIABLES = ("HADOOP_CONF_DIR", "YARN_CONF_DIR")
# The executors' image: the executor-specific conf, or the one for driver and executors alike.
IMAGE_CONFS = ("spark.kubernetes.container.image", "spark.kubernetes.executor.container.image")
REASON_LENGTH = 400  # a Java message can hold a whole JSON document; the line stays readable


def kubernetes_api(master: str) -> str:
    """The API server URL of a `k8s://` master: Spark, too, takes https when no scheme is given."""
    rest = master.removeprefix(KUBERNETES)
    return rest if rest.startswith(("https://", "http://")) else f"https://{rest}"


def endpoint(master: str) -> tuple[str, int] | None:
    """(host, port) of a spark://, sc:// or k8s:// master, which we can probe before starting Spark.

    None where there is nothing to probe: local, yarn, a list of standalone masters (spark://h1,h2).
    ValueError for an address without a host or with a port that is not a number."""
    parsed = urlparse(kubernetes_api(master) if master.startswith(KUBERNETES) else master)
    if parsed.scheme not in DEFAULT_PORTS or "," in parsed.netloc:
        return None
    if not parsed.hostname:
        raise ValueError(f"no host in '{master}'")
    return parsed.hostname, parsed.port or DEFAULT_PORTS[parsed.scheme]


def check_master(name: str, master: str) -> str:
    """Parse `spark_master`: one of the forms in ALLOWED, with a host and a numeric port where it has one."""
    master = master.strip()
    if not (LOCAL_MASTER.match(master) or CLUSTER_MASTER.match(master)):
        raise invalid(name, ALLOWED, master)
    try:
        endpoint(master)
    except ValueError:
        raise invalid(name, ALLOWED, master) from None
    return master


def ensure_reachable(master: str) -> None:
    """Fail fast, naming the parameter, when a standalone master, Connect server or Kubernetes API does not answer."""
    address = endpoint(master)
    if address is not None and (reason := unreachable(*address)):
        server = "the Kubernetes API server" if master.startswith(KUBERNETES) else "the Spark master"
        raise ParamError(f"spark_master: cannot reach '{master}' ({reason}); is {server} running?")


def spark_conf_dir(environ: Mapping[str, str]) -> Path:
    """Where spark-submit reads spark-defaults.conf and spark-env.sh: as its own scripts decide."""
    if environ.get("SPARK_CONF_DIR"):
        return Path(environ["SPARK_CONF_DIR"])
    import pyspark  # a pip-installed Spark is its own SPARK_HOME

    return Path(environ.get("SPARK_HOME") or Path(pyspark.__file__).parent) / "conf"


def set_in_spark_env(names: tuple[str, ...], environ: Mapping[str, str]) -> bool:
    """Whether spark-env.sh, which spark-submit sources, sets one of `names` (outside a comment)."""
    script = spark_conf_dir(environ) / "spark-env.sh"
    if not script.is_file():
        return False
    lines = [line for line in script.read_text(errors="replace").splitlines() if not line.lstrip().startswith("#")]
    return any(name in line for line in lines for name in names)


def yarn_conf_problem(environ: Mapping[str, str]) -> str | None:
    """What is wrong with HADOOP_CONF_DIR / YARN_CONF_DIR for `yarn` (each variable, as found), or None."""
    given = {name: environ[name] for name in YARN_CONF_VARIABLES if environ.get(name, "").strip()}
    # Without yarn-site.xml, Spark looks for the ResourceManager at 0.0.0.0:8032 and retries for minutes.
    if any(Path(path, "yarn-site.xml").is_file() for path in given.values()):
        return None
    if not given and set_in_spark_env(YARN_CONF_VARIABLES, environ):
        return None  # set where only spark-submit sees it: Spark checks it, and a failure is still one line
    return ", ".join(yarn_variable_state(name, given.get(name)) for name in YARN_CONF_VARIABLES)


def yarn_variable_state(name: str, path: str | None) -> str:
    if path is None:
        return f"{name} is not set"
    if not os.path.isdir(path):
        return f"{name}='{path}' is not a directory"
    return f"{name}='{path}' has no yarn-site.xml"


def ensure_yarn_configured(environ: Mapping[str, str]) -> None:
    """`yarn` finds its ResourceManager in the Hadoop configuration those variables point to."""
    if (problem := yarn_conf_problem(environ)) is not None:
        raise ParamError(
            "spark_master: 'yarn' needs HADOOP_CONF_DIR or YARN_CONF_DIR set to the directory of the cluster's "
            f"configuration (yarn-site.xml, core-site.xml); found: {problem}"
        )


PROPERTY = re.compile(r"^\s*([^\s=:#!][^\s=:]*)\s*[\s=:]\s*(.*?)\s*$")


def read_properties(path: Path) -> dict[str, str]:
    """`key value` (or key=value) lines of a Spark properties file; {} when there is none."""
    if not path.is_file():
        return {}
    matches = (PROPERTY.match(line) for line in path.read_text(errors="replace").splitlines())
    return {found[1]: found[2] for found in matches if found}


def submit_args(environ: Mapping[str, str]) -> tuple[dict[str, str], str | None]:
    """The `--conf k=v` (or -c) confs and the `--properties-file` of PYSPARK_SUBMIT_ARGS, which pyspark hands
    to spark-submit."""
    try:
        tokens = shlex.split(environ.get("PYSPARK_SUBMIT_ARGS", ""))
    except ValueError:  # unbalanced quotes: spark-submit fails on them, and says so
        return {}, None
    confs, properties_file = {}, None
    for flag, value in itertools.pairwise([*tokens, ""]):
        if flag.startswith("--conf="):
            flag, value = "--conf", flag.removeprefix("--conf=")
        if flag in ("--conf", "-c") and "=" in value:
            key, _, conf_value = value.partition("=")
            confs[key] = conf_value
        elif flag == "--properties-file":
            properties_file = value
    return confs, properties_file


def system_property_confs(environ: Mapping[str, str]) -> dict[str, str]:
    """`-Dspark.x=y` in SPARK_SUBMIT_OPTS: the driver's JVM gets them, and a SparkConf reads spark.* ones."""
    try:
        tokens = shlex.split(environ.get("SPARK_SUBMIT_OPTS", ""))
    except ValueError:
        return {}
    pairs = (token.removeprefix("-D").partition("=") for token in tokens if token.startswith("-Dspark."))
    return {key: value for key, _, value in pairs}


def properties_file(environ: Mapping[str, str]) -> Path:
    """The properties file spark-submit reads: `--properties-file` in PYSPARK_SUBMIT_ARGS, else spark-defaults.conf."""
    _, given = submit_args(environ)
    return Path(given) if given else spark_conf_dir(environ) / "spark-defaults.conf"


def user_confs(environ: Mapping[str, str]) -> dict[str, str]:
    """The Spark confs a user of this project sets outside it, as spark-submit reads them: the properties file,
    then `--conf` in PYSPARK_SUBMIT_ARGS and `-D` in SPARK_SUBMIT_OPTS (the project sets no image itself)."""
    return {**read_properties(properties_file(environ)), **system_property_confs(environ), **submit_args(environ)[0]}


def ensure_image_set(master: str, environ: Mapping[str, str]) -> None:
    """Kubernetes runs each executor in a container: without an image, no executor can start."""
    confs = user_confs(environ)
    if not any(confs.get(name, "").strip() for name in IMAGE_CONFS):
        raise ParamError(
            f"spark_master: '{master}' needs a container image for the executors: set {IMAGE_CONFS[0]} in "
            f"{properties_file(environ)} or with --conf in PYSPARK_SUBMIT_ARGS (found in neither)"
        )


def check_cluster_needs(master: str, environ: Mapping[str, str] = os.environ) -> None:
    """What the cluster manager of `master` needs before Spark starts: ParamError naming the first thing missing."""
    ensure_reachable(master)
    if master == "yarn":
        ensure_yarn_configured(environ)
    elif master.startswith(KUBERNETES):
        ensure_image_set(master, environ)
