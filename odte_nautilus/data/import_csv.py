"""``odte catalog import csv --layout cboe|thetadata|massive``: vendor CSV quotes through a declared layout.

The layout (``csv_layouts.LAYOUTS``) says which columns hold the prices, sizes, time and contract; this
module only applies it, producing the importers' common quote-rows table (``importing.QUOTE_COLUMNS``).
Rows are numbered as a spreadsheet shows them (header = row 1, first data row = row 2), so an error's
"row N" is the line to look at.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from odte_nautilus.data.csv_layouts import (
    LAYOUTS,
    ContractColumns,
    CsvLayout,
    DateAndMillis,
    EpochNanos,
    LocalTime,
    OccTicker,
)
from odte_nautilus.data.importing import (
    ImportReport,
    assemble_sessions,
    parse_times,
    read_underlying_file,
    write_checked_sessions,
)
from odte_nautilus.data.symbology import SymbologyError, parse_occ
from odte_nautilus.data.underlyings import underlying_spec
from odte_nautilus.risk.session import NEW_YORK

HEADER_ROWS = 1


class CsvFormatError(ValueError):
    """A CSV that does not match its layout: a missing column, an unreadable time, right or ticker."""

    def __init__(self, file: str, where: str, reason: str) -> None:
        self.file, self.where, self.reason = file, where, reason
        super().__init__(f"{file}, {where}: {reason}")


def _times(frame: pd.DataFrame, rule: LocalTime | DateAndMillis | EpochNanos, file: str) -> np.ndarray:
    if isinstance(rule, EpochNanos):
        return frame[rule.column].to_numpy(dtype=np.int64)
    if isinstance(rule, LocalTime):
        return parse_times(frame[rule.column])
    if isinstance(rule, DateAndMillis):
        days = pd.to_datetime(frame[rule.date_column].astype(str), format=rule.date_format)
        local = (days + pd.to_timedelta(frame[rule.millis_column], unit="ms")).dt.tz_localize(NEW_YORK)
        return local.dt.tz_convert("UTC").dt.as_unit("ns").astype("int64").to_numpy()
    raise CsvFormatError(file, "layout", f"unknown time rule {rule!r}")


def _contracts(frame: pd.DataFrame, rule: ContractColumns | OccTicker, file: str) -> pd.DataFrame:
    if isinstance(rule, ContractColumns):
        rights = (
            frame[rule.right]
            .astype(str)
            .str.strip()
            .str.upper()
            .map({k.upper(): v.value for k, v in rule.rights.items()})
        )
        bad = np.flatnonzero(rights.isna().to_numpy())
        if len(bad):
            i = int(bad[0])
            raise CsvFormatError(
                file, f"row {i + 1 + HEADER_ROWS}", f"option right {frame[rule.right].iloc[i]!r} is not C/P"
            )
        expiry = pd.to_datetime(frame[rule.expiration].astype(str), format=rule.expiration_format or "ISO8601")
        return pd.DataFrame(
            {
                "root": frame[rule.root].astype(str).str.strip().str.lstrip("^"),
                "expiry": expiry.dt.date,
                "right": rights,
                "strike": frame[rule.strike].to_numpy(dtype=np.float64) * rule.strike_scale,
            }
        )
    keys = {}
    for i, ticker in enumerate(frame[rule.column].astype(str)):
        if ticker not in keys:
            try:
                keys[ticker] = parse_occ(ticker)
            except SymbologyError as exc:
                raise CsvFormatError(file, f"row {i + 1 + HEADER_ROWS}", str(exc)) from exc
    tickers = frame[rule.column].astype(str)
    return pd.DataFrame(
        {
            "root": tickers.map(lambda t: keys[t].root),
            "expiry": tickers.map(lambda t: keys[t].expiry),
            "right": tickers.map(lambda t: keys[t].right.value),
            "strike": tickers.map(lambda t: keys[t].strike),
        }
    )


def read_layout_file(path: Path, layout: CsvLayout, file_index: int) -> pd.DataFrame:
    """One CSV file as quote rows (``importing.QUOTE_COLUMNS``)."""
    frame = pd.read_csv(path)
    frame.columns = [str(c).strip() for c in frame.columns]
    missing = [c for c in layout.required_columns() if c not in frame.columns]
    if missing:
        raise CsvFormatError(str(path), "header", f"layout {layout.name!r} needs columns {missing}")
    rows = _contracts(frame, layout.contract, str(path))
    rows["ts"] = _times(frame, layout.time, str(path))
    for column, source in (
        ("bid", layout.bid),
        ("ask", layout.ask),
        ("bid_size", layout.bid_size),
        ("ask_size", layout.ask_size),
    ):
        rows[column] = pd.to_numeric(frame[source], errors="coerce").to_numpy(dtype=np.float64)
    rows["row"] = np.arange(1, len(frame) + 1) + HEADER_ROWS
    rows["file"] = file_index
    if layout.open_interest and layout.open_interest in frame.columns:
        rows["open_interest"] = pd.to_numeric(frame[layout.open_interest], errors="coerce")
    return rows


def import_csv(
    files: Sequence[str | Path],
    layout: str,
    index_file: str | Path,
    path: str | Path,
    underlying: str = "SPX",
    roots: tuple[str, ...] | None = None,
    skip_non_0dte: bool = False,
    on_quotes: Callable[[int], object] | None = None,
) -> ImportReport:
    """Import vendor CSV quote files and the underlying's bars into the catalog at ``path``."""
    if layout not in LAYOUTS:
        raise ValueError(f"unknown layout {layout!r}: choose one of {', '.join(LAYOUTS)}")
    spec = underlying_spec(underlying)
    paths = [Path(f) for f in files]
    rows = pd.concat([read_layout_file(p, LAYOUTS[layout], i) for i, p in enumerate(paths)], ignore_index=True)
    sessions, report = assemble_sessions(
        spec,
        rows,
        tuple(map(str, paths)),
        read_underlying_file(index_file, spec),
        instruments_file=str(paths[0]),
        roots=roots,
        skip_non_0dte=skip_non_0dte,
    )
    write_checked_sessions(path, sessions, on_quotes)
    return report
