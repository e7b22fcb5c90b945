"""The parameter parsers in steps.cli.params: accepted values, rejected values, one-line errors."""

from __future__ import annotations

import pytest

from steps.cli.params import Param, ParamError, integer, number, number_list, parse_params, text


def rejects(parse, name: str, value: str) -> str:
    """The message `parse` raises for `value`, checked to be one line starting with '<name>:'."""
    with pytest.raises(ParamError) as info:
        parse(name, value)
    message = str(info.value)
    assert message.startswith(f"{name}:")
    assert "\n" not in message
    assert f"'{value}'" in message  # shows what was given
    return message


@pytest.mark.parametrize("value", ["0", "1", "-0.1", "1.5", "abc", "", "nan", "inf", "-inf"])
def test_open_interval_rejects_bounds_and_non_finite(value):
    message = rejects(number(0, 1), "test_size", value)
    assert "strictly between 0 and 1" in message


@pytest.mark.parametrize(("value", "expected"), [("0.5", 0.5), (" 0.25 ", 0.25), ("1e-3", 0.001)])
def test_open_interval_accepts_inside(value, expected):
    assert number(0, 1)("test_size", value) == expected


def test_closed_bounds_accept_the_bounds_themselves():
    parse = number(0, 1, low_open=False, high_open=False)
    assert parse("p", "0") == 0.0
    assert parse("p", "1") == 1.0
    message = rejects(parse, "p", "1.01")
    assert "between 0 and 1" in message and "strictly" not in message


def test_lower_bound_only():
    parse = number(0)
    assert parse("C", "100") == 100.0
    assert "a number > 0" in rejects(parse, "C", "0")
    assert "a number >= 0" in rejects(number(0, low_open=False), "C", "-1")


@pytest.mark.parametrize("value", ["1.5", "x", "", "0", "-3"])
def test_integer_rejects_fractions_text_and_below_minimum(value):
    message = rejects(integer(1), "max_iter", value)
    assert "a whole number >= 1" in message


def test_integer_accepts_whole_numbers_at_and_above_minimum():
    parse = integer(1)
    assert parse("max_iter", "1") == 1
    assert parse("max_iter", " 200 ") == 200
    assert isinstance(parse("max_iter", "5"), int)
    assert integer()("n", "-7") == -7


@pytest.mark.parametrize(
    ("value", "expected"),
    [("0.05,0.1", [0.05, 0.1]), ("[0.1, 0.5]", [0.1, 0.5]), ("2", [2.0]), ("(1, 2, 5)", [1.0, 2.0, 5.0])],
)
def test_number_list_accepts_plain_and_bracketed_lists(value, expected):
    assert number_list(0)("alphas", value) == expected


@pytest.mark.parametrize("value", ["", ",", " ", "[]", "a,b", "0.1,big", "-1", "0.1,", "0.1,0"])
def test_number_list_rejects_empty_text_and_out_of_range(value):
    message = rejects(number_list(0), "alphas", value)
    assert "list of one or more numbers > 0" in message


def test_number_list_closed_bound_accepts_zero():
    assert number_list(0, low_open=False)("alphas", "0,1") == [0.0, 1.0]


PARAMS = [
    Param("test_size", "0.2", number(0, 1), "held-out fraction"),
    Param("max_iter", "100", integer(1), "iterations"),
    Param("alphas", "0.1,1", number_list(0), "ridge alphas"),
    Param("data", "", text, "CSV or Parquet file"),
]


def test_parse_params_uses_defaults():
    values, raw = parse_params(PARAMS, [], prog="demo")
    assert values == {"test_size": 0.2, "max_iter": 100, "alphas": [0.1, 1.0], "data": ""}
    assert raw == {"test_size": "0.2", "max_iter": "100", "alphas": "0.1,1", "data": ""}


def test_parse_params_returns_typed_values_and_raw_texts():
    argv = ["--test-size", "0.3", "--max-iter", "50", "--alphas", "[0.5, 2]", "--data", " pen.csv "]
    values, raw = parse_params(PARAMS, argv, prog="demo")
    assert values == {"test_size": 0.3, "max_iter": 50, "alphas": [0.5, 2.0], "data": "pen.csv"}
    assert raw == {"test_size": "0.3", "max_iter": "50", "alphas": "[0.5, 2]", "data": " pen.csv "}


def test_parse_params_reports_the_bad_parameter_by_name():
    with pytest.raises(ParamError) as info:
        parse_params(PARAMS, ["--max-iter", "1.5"], prog="demo")
    assert str(info.value) == "max_iter: must be a whole number >= 1, got '1.5'"
