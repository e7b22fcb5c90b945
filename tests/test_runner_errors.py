"""How a step names an error and tells a stop from a failure (steps/tracking/runner.py); no run needed.

The end-to-end cases (a real SIGTERM reaching the step and Spark's JVM) are in test_interrupts.py.
"""

from __future__ import annotations

from steps.tracking.runner import Terminated, error_tag, interrupt_behind


class UnreadableMessageError(Exception):
    """As a Py4JJavaError once its JVM has exited: asking for the message raises."""

    def __str__(self):
        raise ConnectionRefusedError(111, "Connection refused")


def raised_while_handling(first: BaseException, second: BaseException) -> BaseException:
    """`second`, raised while `first` was being handled (so `first` is its __context__)."""
    try:
        try:
            raise first
        except BaseException:
            raise second from None  # `from None` hides the context in tracebacks, it still records it
    except BaseException as error:
        return error


def test_a_stop_is_found_behind_the_error_that_replaced_it():
    stop = Terminated()
    assert interrupt_behind(raised_while_handling(stop, UnreadableMessageError())) is stop
    ctrl_c = KeyboardInterrupt()
    assert interrupt_behind(ctrl_c) is ctrl_c


def test_a_failure_with_no_stop_behind_it_is_a_failure():
    assert interrupt_behind(raised_while_handling(ValueError("bad"), RuntimeError("worse"))) is None
    assert interrupt_behind(RuntimeError("alone")) is None


def test_the_error_tag_never_raises_and_stays_within_mlflows_limit():
    assert error_tag(UnreadableMessageError()) == "UnreadableMessageError: (its message could not be read)"
    assert error_tag(ValueError("x" * 10_000)) == "ValueError: " + "x" * (5000 - len("ValueError: "))
