"""What keeps a row from being scored: a missing value, a value that is not a finite number, an unknown category.
pandas and numpy only: the router carries this file.

One problem per row, the first in column order, as `<column>: <problem>` ('' for a row that can be
scored), so a model can refuse a request naming the first bad row, or a batch job can write each
bad row with its reason and go on.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence

import numpy as np
import pandas as pd

MISSING, INFINITE, NOT_A_NUMBER = "missing value", "infinite value", "not a number"
MISSING_TEXTS = ("", "NA", "N/A", "NaN", "nan", "null", "NULL", "None")  # in a CSV read as text: no value


def is_missing(values: pd.Series) -> np.ndarray:
    """Missing: null, NaN, or (for text, as a CSV is read) one of MISSING_TEXTS."""
    missing = values.isna().to_numpy()
    if values.dtype == object:
        missing |= values.astype(str).str.strip().isin(MISSING_TEXTS).to_numpy()
    return missing


def as_numbers(values: pd.Series) -> np.ndarray:
    """The values as float64: NaN where missing or not a number."""
    return pd.to_numeric(values, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)


def numeric_problems(values: pd.Series, numbers: np.ndarray) -> np.ndarray:
    """Per value of a numeric column (and `numbers`, as_numbers of it): '' or what is wrong with it."""
    missing = is_missing(values)
    problems = np.full(len(values), "", dtype=object)
    problems[np.isinf(numbers)] = INFINITE
    problems[np.isnan(numbers) & ~missing] = NOT_A_NUMBER
    problems[missing] = MISSING
    return problems


def text_problems(values: pd.Series, categories: Collection[str] | None = None) -> np.ndarray:
    """Per value of a text column: '' or what is wrong with it (missing; not one of `categories`, if given)."""
    missing = is_missing(values)
    problems = np.full(len(values), "", dtype=object)
    if categories is not None:
        unknown = ~values.astype(str).isin(list(categories)).to_numpy() & ~missing
        problems[unknown] = [f"unknown value {value!r}" for value in values[unknown].astype(str)]
    problems[missing] = MISSING
    return problems


def row_problems(
    frame: pd.DataFrame,
    numeric: Sequence[str],
    text: Sequence[str] = (),
    categories: Mapping[str, Collection[str]] | None = None,
) -> np.ndarray:
    """Per row of `frame`, its first problem in the order of `text`, then `numeric`: '<column>: <problem>', or ''."""
    reasons = np.full(len(frame), "", dtype=object)
    columns = [(name, text_problems(frame[name], (categories or {}).get(name))) for name in text]
    columns += [(name, numeric_problems(frame[name], as_numbers(frame[name]))) for name in numeric]
    for name, problems in columns:
        first = (reasons == "") & (problems != "")
        reasons[first] = name + ": " + problems[first]
    return reasons
