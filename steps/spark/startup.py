"""Starting Spark's JVM so that a failure is one line: what the JVM prints while it starts is held
back (JvmOutput), and a failure becomes SparkStartError with Spark's own reason and the file
that keeps the rest."""

from __future__ import annotations

import os
import re
import tempfile
import threading
import traceback
from contextlib import suppress

from steps import UserError

REASON_LENGTH = 400  # a Java message can hold a whole JSON document; the line stays readable


class SparkStartError(UserError):
    """Spark did not start: one line with Spark's own reason."""


def to_stderr(data: bytes) -> None:
    """Write to file descriptor 2, where the JVM would have written itself (whatever sys.stderr is now)."""
    view = memoryview(data)
    with suppress(OSError):  # our stderr closed: the output has nowhere to go
        while view:
            view = view[os.write(2, view) :]


class JvmOutput:
    """The stderr of the JVM this module starts, read by a thread: held back while a session starts, then
    passed on to ours as it comes, so a running session's warnings and its workers' output show as before."""

    def __init__(self):
        read_fd, self._write_fd = os.pipe()
        self._lock = threading.Lock()
        self._held: list[bytes] | None = []  # None: passing through
        self.gateway = None  # the JVM's py4j gateway, once it has started
        self._reader = threading.Thread(target=self._pump, args=(read_fd,), name="spark-jvm-stderr", daemon=True)
        self._reader.start()

    def _pump(self, read_fd: int) -> None:
        with open(read_fd, "rb", buffering=0) as stream:
            while chunk := stream.read(65536):
                with self._lock:
                    if self._held is None:
                        to_stderr(chunk)
                    else:
                        self._held.append(chunk)

    def launch(self, conf):
        """Start the JVM with pyspark's own launcher (spark-submit, `conf` as --conf), its stderr into our pipe."""
        from pyspark.java_gateway import launch_gateway

        try:
            self.gateway = launch_gateway(conf, popen_kwargs={"stderr": self._write_fd})
        finally:
            os.close(self._write_fd)  # the JVM has its copy; ours would keep the pipe open once it has gone
        return self.gateway

    def hold(self) -> None:
        with self._lock:
            self._held = []

    def release(self) -> None:
        with self._lock:
            if self._held:
                to_stderr(b"".join(self._held))
            self._held = None

    def held_text(self) -> str:
        """What was held back; when the JVM never started, all it printed before it exited."""
        if self.gateway is None:
            self._reader.join(timeout=5)
        with self._lock:
            return b"".join(self._held or []).decode(errors="replace")


_jvm_output: JvmOutput | None = None  # the JVM this module started in this process, if any


def jvm_output_to_hold() -> JvmOutput | None:
    """Where to hold back what Spark's JVM prints while a session starts: a new JvmOutput when no JVM runs
    yet (start_jvm starts it), the one of the JVM this module started, else None (a JVM started elsewhere
    in this process, by a test or a notebook: its output is not ours to hold)."""
    global _jvm_output
    from pyspark import SparkContext

    if SparkContext._gateway is None:
        _jvm_output = JvmOutput()
        return _jvm_output
    if _jvm_output is not None and _jvm_output.gateway is SparkContext._gateway:
        _jvm_output.hold()
        return _jvm_output
    return None


def start_jvm(output: JvmOutput, conf) -> None:
    """Start this process's JVM with its stderr into `output`."""
    from pyspark import SparkContext

    # pyspark starts one JVM per process, in this call, with the stderr it inherits; the same
    # launcher with our pipe, registered here, is the JVM pyspark then uses.
    SparkContext._ensure_initialized(gateway=output.launch(conf))


JAVA_EXCEPTION = re.compile(r"(?:^|[\s:])((?:[a-z_$][\w$]*\.)+[A-Z][\w$]*(?:Exception|Error))(?::\s*(.*))?$")
# JVM notices, INFO/WARN log lines and stack frames: never the reason.
NOISE = re.compile(r"^(WARNING: |Picked up |SLF4J|\s+at |\s*\.\.\. \d+ more|\d\d/\d\d/\d\d [\d:]+ (INFO|WARN|DEBUG) )")


def first_java_error(text: str) -> str | None:
    """The message of the first Java exception in `text` (its class when it has none)."""
    for line in text.splitlines():
        if not NOISE.match(line) and (found := JAVA_EXCEPTION.search(line.rstrip())):
            return found[2] or found[1].rsplit(".", 1)[-1]
    return None


def first_meaningful_line(text: str) -> str | None:
    """The first line that is not a notice, a log line at INFO/WARN or a stack frame, without its `Error: `."""
    lines = (line.strip() for line in text.splitlines() if line.strip() and not NOISE.match(line))
    return next((line.removeprefix("Error: ") for line in lines), None)


def safe_text(error: BaseException) -> str:
    """str(error), which for a Py4JJavaError asks a JVM that may be gone."""
    try:
        return str(error)
    except Exception:
        return type(error).__name__


def start_reason(error: BaseException, jvm_text: str, jvm_exited: bool) -> str:
    """Spark's own reason for not starting, as one line: the Java exception's message, else (the JVM having
    exited) the first meaningful line it printed, else pyspark's message."""
    error_text = safe_text(error)
    reason = first_java_error(error_text) or first_java_error(jvm_text)
    if not reason and jvm_exited:
        reason = first_meaningful_line(jvm_text)
    reason = " ".join((reason or first_meaningful_line(error_text) or type(error).__name__).split())
    return reason if len(reason) <= REASON_LENGTH else reason[: REASON_LENGTH - 1] + "…"


def save_start_output(jvm_text: str, error: BaseException) -> str:
    """A file with all the JVM printed while starting and the Python error, for the details the line leaves out."""
    fd, path = tempfile.mkstemp(prefix="penguins-spark-start-", suffix=".log")
    with open(fd, "w") as log:
        log.write(jvm_text + "\n" + "".join(traceback.format_exception(error)))
    return path


def start_failed(master: str, error: BaseException, output: JvmOutput | None) -> SparkStartError:
    """The one line for a session that did not start, naming the file with the rest of Spark's output."""
    jvm_text = output.held_text() if output is not None else ""
    reason = start_reason(error, jvm_text, jvm_exited=output is not None and output.gateway is None)
    where = f" (Spark's output: {save_start_output(jvm_text, error)})" if jvm_text.strip() else ""
    return SparkStartError(f"spark_master: Spark did not start on '{master}': {reason}{where}")


def start_errors() -> tuple[type[Exception], ...]:
    """What pyspark raises when Spark does not start: its own errors, and the JVM's through py4j."""
    from py4j.protocol import Py4JError
    from pyspark.errors import PySparkException

    return PySparkException, Py4JError
