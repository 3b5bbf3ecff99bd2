"""``odte catalog import csv``: three vendor layouts, one shape; bad rows refused by file and row."""

import numpy as np
import pandas as pd
import pytest

from odte_nautilus.data import catalog_io, sidecar
from odte_nautilus.data.checks import CrossedQuoteError, OffTickError, OutsideSessionError, StrikeGridHoleError
from odte_nautilus.data.csv_layouts import LAYOUTS
from odte_nautilus.data.import_csv import CsvFormatError, import_csv
from tests.data.helpers import catalog_shape, write_cboe_csv, write_index_csv, write_massive_csv, write_thetadata_csv

WRITERS = {"cboe": write_cboe_csv, "thetadata": write_thetadata_csv, "massive": write_massive_csv}


def _fixture(tmp_path, data, layout):
    quotes = WRITERS[layout](data, tmp_path / f"{layout}.csv")
    return quotes, write_index_csv(data, tmp_path / "spx.csv")


@pytest.mark.parametrize("layout", sorted(WRITERS))
def test_every_layout_gives_the_sample_shape_and_quotes(tmp_path, tiny_catalog, session_data, layout):
    quotes, index = _fixture(tmp_path, session_data, layout)
    report = import_csv([quotes], layout, index, tmp_path / "catalog")
    assert report.quotes == session_data.quote_count
    assert catalog_shape(tmp_path / "catalog") == catalog_shape(tiny_catalog)
    iid = session_data.options[-1].id.value
    back = catalog_io.read_quotes(tmp_path / "catalog", iid)
    np.testing.assert_allclose(back.ask, session_data.quotes[iid].ask)
    assert np.array_equal(back.ts, session_data.quotes[iid].ts)


def test_cboe_open_interest_reaches_the_side_file(tmp_path, session_data):
    quotes, index = _fixture(tmp_path, session_data, "cboe")
    import_csv([quotes], "cboe", index, tmp_path / "catalog")
    assert (
        sidecar.load_open_interest(tmp_path / "catalog", session_data.session.trading_date)
        == session_data.open_interest
    )


def _edit(path, row, column, value):
    frame = pd.read_csv(path)
    frame.loc[row - 2, column] = value  # spreadsheet row numbers: header is row 1
    frame.to_csv(path, index=False)


@pytest.mark.parametrize(
    ("column", "value", "error", "text"),
    [
        ("bid", 99.0, CrossedQuoteError, "bid 99 > ask"),
        ("ask", 3.05, OffTickError, "ask 3.05"),
        ("quote_datetime", "2024-07-22 08:15:00", OutsideSessionError, "08:15:00"),
    ],
)
def test_bad_rows_are_refused_by_file_and_row_and_nothing_is_written(
    tmp_path, session_data, column, value, error, text
):
    quotes, index = _fixture(tmp_path, session_data, "cboe")
    frame = pd.read_csv(quotes)
    row = int(np.flatnonzero((frame["bid"] < 2.5).to_numpy())[3]) + 2  # a cheap option's quote
    if column == "ask":
        _edit(quotes, row, "bid", 2.9)
    _edit(quotes, row, column, value)
    with pytest.raises(error, match=text) as err:
        import_csv([quotes], "cboe", index, tmp_path / "catalog")
    assert err.value.file == str(quotes) and err.value.where.startswith(f"row {row} ")
    assert not (tmp_path / "catalog").exists()


def test_a_missing_strike_at_the_money_is_refused(tmp_path, session_data):
    quotes, index = _fixture(tmp_path, session_data, "cboe")
    frame = pd.read_csv(quotes)
    atm = round(session_data.bars.open[0] / 5) * 5
    frame[~((frame["strike"] == atm) & (frame["option_type"] == "P"))].to_csv(quotes, index=False)
    with pytest.raises(StrikeGridHoleError, match=f"P{atm:g}"):
        import_csv([quotes], "cboe", index, tmp_path / "catalog")


def test_missing_columns_and_unreadable_rights_are_format_errors(tmp_path, session_data):
    quotes, index = _fixture(tmp_path, session_data, "thetadata")
    with pytest.raises(CsvFormatError, match="needs columns"):
        import_csv([quotes], "cboe", index, tmp_path / "catalog")
    _edit(quotes, 5, "right", "X")
    with pytest.raises(CsvFormatError, match="row 5: option right 'X'"):
        import_csv([quotes], "thetadata", index, tmp_path / "catalog")


def test_layouts_are_declared_data():
    assert sorted(LAYOUTS) == ["cboe", "massive", "thetadata"]
    for layout in LAYOUTS.values():
        assert len(set(layout.required_columns())) == len(layout.required_columns())
