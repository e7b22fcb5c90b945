"""Typed step parameters, parsed from the strings MLflow Projects passes.

MLproject's `float`/`int` types are not checked by MLflow, so every value arrives
as text and is parsed and range-checked here. A bad value raises ParamError with
one line that names the parameter, says what is allowed and shows what was given.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from steps import UserError


class ParamError(UserError):
    """A parameter value is not allowed."""


Parser = Callable[[str, str], Any]  # (parameter name, text) -> value


@dataclass(frozen=True)
class Param:
    name: str
    default: str
    parse: Parser
    help: str

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")


def invalid(name: str, allowed: str, text: str) -> ParamError:
    """The one-line error for a value of `name` that is not `allowed`."""
    shown = text.replace("\n", "\\n").replace("\r", "\\r")  # the error stays one line
    return ParamError(f"{name}: must be {allowed}, got '{shown}'")


def _range_words(low: float | None, high: float | None, low_open: bool, high_open: bool) -> str:
    if low is not None and high is not None:
        return f"{'strictly ' if low_open and high_open else ''}between {low:g} and {high:g}"
    if low is not None:
        return f"{'>' if low_open else '>='} {low:g}"
    if high is not None:
        return f"{'<' if high_open else '<='} {high:g}"
    return ""


def number(
    low: float | None = None, high: float | None = None, *, low_open: bool = True, high_open: bool = True
) -> Parser:
    """A finite float, optionally within (low, high); `*_open` says whether the bound is excluded."""
    allowed = " ".join(filter(None, ("a number", _range_words(low, high, low_open, high_open))))

    def parse(name: str, text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise invalid(name, allowed, text) from None
        too_low = low is not None and (value <= low if low_open else value < low)
        too_high = high is not None and (value >= high if high_open else value > high)
        if not math.isfinite(value) or too_low or too_high:
            raise invalid(name, allowed, text)
        return value

    return parse


def integer(minimum: int | None = None) -> Parser:
    allowed = "a whole number" + (f" >= {minimum}" if minimum is not None else "")

    def parse(name: str, text: str) -> int:
        try:
            value = int(text.strip())
        except ValueError:
            raise invalid(name, allowed, text) from None
        if minimum is not None and value < minimum:
            raise invalid(name, allowed, text)
        return value

    return parse


def number_list(low: float | None = None, *, low_open: bool = True) -> Parser:
    """A comma-separated, non-empty list of numbers (brackets allowed: '[0.1, 0.5]')."""
    item = number(low, low_open=low_open)
    allowed = "a comma-separated list of one or more numbers" + (
        f" {_range_words(low, None, low_open, True)}" if low is not None else ""
    )

    def parse(name: str, text: str) -> list[float]:
        parts = [p.strip() for p in text.strip().strip("[]()").split(",")]
        if not any(parts):
            raise invalid(name, allowed, text)
        try:
            return [item(name, p) for p in parts]
        except ParamError:
            raise invalid(name, allowed, text) from None

    return parse


def text(name: str, value: str) -> str:
    return value.strip()


def parse_params(
    params: Sequence[Param], argv: Sequence[str] | None, prog: str
) -> tuple[dict[str, Any], dict[str, str]]:
    """Parse `--name value` options: (typed values, the texts as given). ParamError on the first bad one."""
    parser = argparse.ArgumentParser(prog=prog, description=f"MLflow Projects entry point {prog}.")
    for param in params:
        parser.add_argument(
            param.flag, dest=param.name, default=param.default, help=f"{param.help} (default: '{param.default}')"
        )
    raw = vars(parser.parse_args(argv))
    return {param.name: param.parse(param.name, raw[param.name]) for param in params}, raw


def choice(options: Sequence[str]) -> Parser:
    """One of `options`."""
    allowed = "one of " + ", ".join(options)

    def parse(name: str, text: str) -> str:
        if text.strip() not in options:
            raise invalid(name, allowed, text)
        return text.strip()

    return parse


def column_name(name: str, text: str) -> str:
    """The name of one column of the data (checked against the data where it is read)."""
    if not text.strip():
        raise invalid(name, "the name of a column", text)
    return text.strip()


def column_names(name: str, text: str) -> list[str]:
    """A comma-separated, non-empty list of distinct column names."""
    values = [v.strip() for v in text.strip().strip("[]").split(",")]
    if not all(values) or len(set(values)) != len(values):
        raise invalid(name, "a comma-separated list of distinct column names", text)
    return values


def boolean(name: str, text: str) -> bool:
    """true/false (also yes/no, 1/0), any case."""
    value = text.strip().lower()
    if value in ("true", "yes", "1"):
        return True
    if value in ("false", "no", "0"):
        return False
    raise invalid(name, "true or false", text)


def as_text(value: Any) -> str:
    """The canonical text of a parsed value: equal values give equal texts ('0.50' and '[0.5]' both give '0.5')."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple):
        return ",".join(as_text(v) for v in value)
    if isinstance(value, float):
        return repr(value)
    return str(value)
