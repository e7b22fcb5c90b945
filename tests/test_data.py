"""steps.ml.data: loading, validating, cleaning and encoding the penguins table."""

from __future__ import annotations

import hashlib

import pandas as pd
import pytest

from steps.ml.data import DataError, bundled_csv_path, load_penguins

ENCODING = {
    "species": {"Adelie": 0, "Chinstrap": 1, "Gentoo": 2},
    "island": {"Biscoe": 0, "Dream": 1, "Torgersen": 2},
    "sex": {"female": 0, "male": 1},
}


@pytest.fixture
def raw():
    """The bundled CSV as pandas reads it, to alter and write to tmp_path."""
    return pd.read_csv(bundled_csv_path())


def load_frame(frame: pd.DataFrame, tmp_path, name: str = "penguins.csv"):
    path = tmp_path / name
    frame.to_csv(path, index=False)
    return load_penguins(str(path))


def data_error(location: str) -> str:
    with pytest.raises(DataError) as info:
        load_penguins(location)
    message = str(info.value)
    assert message.startswith("data:")
    assert "\n" not in message
    return message


def test_bundled_data_has_344_rows_read_and_333_clean():
    penguins = load_penguins()
    assert penguins.rows_read == 344
    assert len(penguins.frame) == 333
    assert penguins.source == str(bundled_csv_path())
    assert not penguins.frame.isna().any().any()


def test_encoded_columns_follow_the_documented_mapping():
    frame = load_penguins().frame
    for column, codes in ENCODING.items():
        assert set(frame[column]) == set(codes)
        assert (frame[f"{column}_encoded"] == frame[column].map(codes)).all()
        assert frame[f"{column}_encoded"].dtype == "int64"


def test_categories_are_case_insensitive(raw, tmp_path):
    shouting = raw.assign(sex=raw["sex"].str.upper(), island=" " + raw["island"].str.lower())
    frame = load_frame(shouting, tmp_path).frame
    assert set(frame["sex"]) == {"female", "male"}
    assert set(frame["island"]) == {"Biscoe", "Dream", "Torgersen"}
    pd.testing.assert_frame_equal(frame, load_penguins().frame)


def test_missing_column_is_named(raw, tmp_path):
    raw.drop(columns=["flipper_length_mm"]).to_csv(tmp_path / "p.csv", index=False)
    message = data_error(str(tmp_path / "p.csv"))
    assert "missing column(s) flipper_length_mm " in message


def test_text_in_a_measurement_column_is_named(raw, tmp_path):
    raw = raw.astype({"bill_depth_mm": object})
    raw.loc[5, "bill_depth_mm"] = "deep"
    raw.to_csv(tmp_path / "p.csv", index=False)
    message = data_error(str(tmp_path / "p.csv"))
    assert "non-numeric value(s) in column(s) bill_depth_mm " in message


def test_unknown_island_names_column_and_value(raw, tmp_path):
    raw.loc[0, "island"] = "Atlantis"
    raw.to_csv(tmp_path / "p.csv", index=False)
    message = data_error(str(tmp_path / "p.csv"))
    assert "column island has unknown value(s) Atlantis" in message


def test_all_nan_measurement_leaves_no_complete_rows(raw, tmp_path):
    raw.assign(body_mass_g=float("nan")).to_csv(tmp_path / "p.csv", index=False)
    assert "no row has all of" in data_error(str(tmp_path / "p.csv"))


def test_empty_file_is_a_data_error(tmp_path):
    (tmp_path / "empty.csv").write_bytes(b"")
    assert "is empty" in data_error(str(tmp_path / "empty.csv"))


def test_missing_file_is_a_data_error(tmp_path):
    message = data_error(str(tmp_path / "nope.csv"))
    assert "no such file" in message and "nope.csv" in message


def test_parquet_round_trip(raw, tmp_path):
    path = tmp_path / "penguins.parquet"
    raw.to_parquet(path, index=False)
    penguins = load_penguins(str(path))
    assert penguins.rows_read == 344
    pd.testing.assert_frame_equal(penguins.frame, load_penguins().frame)


def test_file_uri_is_read(raw, tmp_path):
    path = tmp_path / "penguins.csv"
    raw.to_csv(path, index=False)
    penguins = load_penguins(path.as_uri())
    assert path.as_uri().startswith("file://")
    assert (penguins.rows_read, len(penguins.frame)) == (344, 333)


def test_loading_does_not_modify_the_bundled_file():
    path = bundled_csv_path()
    before = hashlib.sha256(path.read_bytes()).hexdigest()
    load_penguins()
    load_penguins(str(path))
    assert hashlib.sha256(path.read_bytes()).hexdigest() == before
