"""The data: the penguins table (load, validate, clean, encode) or a table of the user's. No MLflow here.

The encoding of the three categorical columns is fixed and documented (README,
"Data"), so that codes mean the same thing in every step, run and model:

    species: Adelie=0, Chinstrap=1, Gentoo=2
    island:  Biscoe=0, Dream=1, Torgersen=2
    sex:     female=0, male=1
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlparse

import pandas as pd

from steps import UserError

CATEGORIES: dict[str, tuple[str, ...]] = {
    "species": ("Adelie", "Chinstrap", "Gentoo"),
    "island": ("Biscoe", "Dream", "Torgersen"),
    "sex": ("female", "male"),
}
MEASUREMENTS = ("bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g")
COLUMNS = ("species", "island", *MEASUREMENTS, "sex")
BUNDLED = "palmerpenguins"


class DataError(UserError):
    """The data set cannot be used; the message says which column or file and why."""


@dataclass(frozen=True, eq=False)  # compared (and hashed) by identity: one loaded table is one data set
class Table:
    """A loaded table and where it came from."""

    frame: pd.DataFrame | None  # None for a table read where it is used (by Spark, in `score`)
    source: str  # what the user gave, or the bundled CSV's path
    rows_read: int | None
    name: str = "penguins"  # the name of its dataset input in MLflow


def categories_of(columns: Sequence[str]) -> dict[str, list[str]]:
    """The documented categories of these categorical columns: what a model that takes them knows."""
    return {column: list(CATEGORIES[column]) for column in columns}


def bundled_csv_path() -> Path:
    """The 344-row CSV that the palmerpenguins package ships (no download)."""
    import palmerpenguins

    return Path(palmerpenguins.__file__).parent / "data" / "penguins.csv"


def local_path(location: str) -> Path | None:
    """The local file a location names (plain path or file:// URI), None for other URIs."""
    parsed = urlparse(location)
    if parsed.scheme == "file":
        return Path(unquote(parsed.path))
    if not parsed.scheme or len(parsed.scheme) == 1:  # "C:\..." parses as scheme "c"
        return Path(location).expanduser()
    return None


def read_table(location: str) -> pd.DataFrame:
    """Read a CSV or Parquet file from a path or URI (format by suffix; Parquet if '.parquet' or '.pq')."""
    path = local_path(location)
    if path is not None:
        if not path.is_file():
            raise DataError(
                f"data: no such file '{location}' (give a CSV or Parquet file, or '' for the bundled penguins)"
            )
        location = str(path)
    is_parquet = location.lower().rstrip("/").endswith((".parquet", ".pq"))
    try:
        return pd.read_parquet(location) if is_parquet else pd.read_csv(location)
    except pd.errors.EmptyDataError:
        raise DataError(f"data: '{location}' is empty (a header row and penguins are needed)") from None
    except Exception as exc:  # unreadable file: name it, keep the reader's reason
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise DataError(f"data: cannot read '{location}' as {'Parquet' if is_parquet else 'CSV'}: {reason}") from None


def validate(raw: pd.DataFrame) -> pd.DataFrame:
    """Check the schema; return the seven columns with measurements as floats.

    Raises DataError naming every missing column, every measurement column that holds
    text, and every category value outside the documented mapping.
    """
    missing = [c for c in COLUMNS if c not in raw.columns]
    if missing:
        raise DataError(f"data: missing column(s) {', '.join(missing)} (needed: {', '.join(COLUMNS)})")
    table = raw.loc[:, list(COLUMNS)].copy()
    non_numeric = []
    for column in MEASUREMENTS:
        as_number = pd.to_numeric(table[column], errors="coerce")
        if (as_number.isna() & table[column].notna()).any():
            non_numeric.append(column)
        table[column] = as_number.astype("float64")
    if non_numeric:
        raise DataError(f"data: non-numeric value(s) in column(s) {', '.join(non_numeric)} (numbers expected)")
    for column, allowed in CATEGORIES.items():
        # Case-insensitive, so seaborn's copy ("Male"/"Female") reads the same as palmerpenguins'.
        canonical = {value.lower(): value for value in allowed}
        present = table[column].dropna().astype(str).str.strip()
        unknown = sorted(set(present[~present.str.lower().isin(canonical)]))
        if unknown:
            raise DataError(
                f"data: column {column} has unknown value(s) {', '.join(unknown[:5])} (allowed: {', '.join(allowed)})"
            )
        table[column] = present.str.lower().map(canonical).reindex(table.index)
    return table


def clean(table: pd.DataFrame) -> pd.DataFrame:
    """Drop rows with any missing value (344 bundled rows -> 333) and add `<column>_encoded` codes."""
    complete = table.dropna().reset_index(drop=True)
    if complete.empty:
        raise DataError("data: no row has all of " + ", ".join(COLUMNS) + " filled in")
    for column, allowed in CATEGORIES.items():
        complete[f"{column}_encoded"] = complete[column].map({v: i for i, v in enumerate(allowed)}).astype("int64")
    return complete


def split_rows(frame: pd.DataFrame, stratify_by: str, test_size: float, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(train, test) rows, stratified on one column and reproducible from the seed.

    Raises DataError when the table is too small to put every class on both sides.
    """
    from sklearn.model_selection import train_test_split

    try:
        train, test = train_test_split(frame, test_size=test_size, random_state=seed, stratify=frame[stratify_by])
    except ValueError as error:
        raise DataError(
            f"data: {len(frame)} complete rows cannot be split with a test share of {test_size:g}: {error}"
        ) from None
    classes = frame[stratify_by].nunique()
    if train[stratify_by].nunique() < classes or test[stratify_by].nunique() < classes:
        raise DataError(
            f"data: {len(frame)} complete rows leave a {stratify_by} class out of one side of the split;"
            " more penguins are needed"
        )
    return train, test


def load_penguins(location: str = "") -> Table:
    """The cleaned penguins from `location`, or the bundled set when it is empty."""
    location = location.strip()
    source = location or str(bundled_csv_path())
    raw = read_table(source)
    return Table(frame=clean(validate(raw)), source=source, rows_read=len(raw))


def table_at(location: str = "") -> Table:
    """Where a table is (a file or folder, path or URI; the bundled penguins' CSV when empty), not its rows."""
    location = location.strip() or str(bundled_csv_path())
    stem = Path(urlparse(location).path.rstrip("/")).stem
    return Table(frame=None, source=location, rows_read=None, name=stem or "data")


def content_digest(location: str) -> str:
    """A digest of the bytes of a local file, or of every file of a local folder (but hidden ones and Spark's
    `_SUCCESS` markers), read in chunks; of the location itself for another URI."""
    import hashlib

    digest = hashlib.sha256()
    path = local_path(location)
    if path is None or not path.exists():
        digest.update(location.encode())
        return digest.hexdigest()
    files = [path] if path.is_file() else sorted(f for f in path.rglob("*") if f.is_file())
    for file in files:
        if file.name.startswith((".", "_")) and file != path:
            continue
        digest.update(file.relative_to(path.parent).as_posix().encode() + b"\0")
        with file.open("rb") as content:
            while chunk := content.read(1 << 20):
                digest.update(chunk)
    return digest.hexdigest()


def load_any_table(location: str = "") -> Table:
    """Any table from `location`, as it is (its columns are checked by the step that uses them);
    the cleaned bundled penguins when it is empty."""
    location = location.strip()
    if not location:
        return load_penguins()
    raw = read_table(location)
    stem = Path(urlparse(location).path.rstrip("/")).stem or "data"
    return Table(frame=raw, source=location, rows_read=len(raw), name=stem)
