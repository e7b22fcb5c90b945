"""The tracking server: its URI as executors see it, how long to retry, and a check that fails in seconds."""

from __future__ import annotations

import os

from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from steps import UserError
from steps.cli.probe import unreachable

# MLflow retries a failed request 7 times with doubling waits: about 4 minutes before a dead
# server is reported. These bounds still ride out a short outage (about 30 s of retries);
# a user's own settings win. Spark executors get them too (steps/spark/session.py).
HTTP_RETRY_DEFAULTS = {
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "5",
    "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "60",
}


def telemetry_off_unless_asked() -> None:
    """MLflow's telemetry off in this process, unless the user set MLFLOW_DISABLE_TELEMETRY.

    When it cannot reach its endpoint, its background thread removes an environment variable,
    and another thread reading the environment then (each HTTP request does) fails with a
    KeyError (MLflow 3.17): the steps and the sweep's tasks log from several threads."""
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")


def check_tracking_server(uri: str) -> None:
    """Fail in seconds, naming the setting, when an http(s) tracking server does not answer
    or refuses the credentials (MLFLOW_TRACKING_USERNAME / _PASSWORD or _TOKEN)."""
    from urllib.parse import urlparse

    parsed = urlparse(uri)
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        return
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    shown = parsed._replace(netloc=f"{parsed.hostname}:{port}").geturl()  # never echo credentials in a URL
    if reason := unreachable(parsed.hostname, port):
        raise UserError(f"MLFLOW_TRACKING_URI: cannot reach {shown} ({reason}); is the tracking server running?")
    try:
        MlflowClient(uri).search_experiments(max_results=1)  # one cheap request that needs the credentials
    except MlflowException as error:
        if error.error_code in ("UNAUTHENTICATED", "PERMISSION_DENIED"):
            raise UserError(
                f"MLFLOW_TRACKING_USERNAME/MLFLOW_TRACKING_PASSWORD: {shown} refused them ({error.error_code}); "
                "check the credentials"
            ) from None
        raise


def absolute_tracking_uri(uri: str) -> str:
    """A relative `sqlite:///mlflow.db` means nothing in an executor's working directory."""
    prefix = "sqlite:///"
    if uri.startswith(prefix) and not uri.startswith(prefix + "/"):
        return prefix + os.path.abspath(uri[len(prefix) :])
    return uri
