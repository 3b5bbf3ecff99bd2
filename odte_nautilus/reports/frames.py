"""Reading a backtest run folder: ``fills.csv``, ``positions.csv`` and ``decisions.jsonl``.

The reports and the invariant audit read only these files, never the engine's objects, so the audit is
independent of the code it audits and a run folder can be re-audited later. A file that cannot be
trusted is refused with an error naming the file, the line and the column, never silently patched: an
audit over half-parsed fills would be a wish, not an audit.
"""

from __future__ import annotations

from numbers import Integral
from pathlib import Path

import pandas as pd

from odte_nautilus.risk.journal import JournalError
from odte_nautilus.risk.journal import read as read_journal

FILLS_FILE = "fills.csv"
POSITIONS_FILE = "positions.csv"
DECISIONS_FILE = "decisions.jsonl"
SUMMARY_FILE = "summary.json"
REPORT_FILE = "report.html"

FILLS_COLUMNS = (
    "ts_event", "strategy_id", "package_id", "instrument_id", "side", "quantity", "price", "role",
    "exit_kind", "underlying", "right", "strike", "expiry",
)  # fmt: skip
POSITIONS_COLUMNS = (
    "package_id", "strategy_id", "symbol", "structure", "opened_at", "closed_at", "quantity",
    "entry_price", "exit_price", "realized_pnl", "exit_kinds", "trading_date",
)  # fmt: skip

_SIDE_SIGN = {"BUY": 1, "SELL": -1}
_ROLES = ("entry", "exit")
_RIGHTS = ("C", "P")


class RunDataError(ValueError):
    """A run-folder file the reports cannot trust. The message names the file, the line and what to do."""


def _line(index: object) -> str:
    """CSV line of a row of a frame read with a header (row 0 is line 2); hand-built frames read the same."""
    return f"line {int(index) + 2}" if isinstance(index, Integral) else f"row {index!r}"


def require_columns(frame: pd.DataFrame, columns: tuple[str, ...], source: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise RunDataError(f"{source}: missing column(s) {', '.join(missing)}; expected at least: {', '.join(columns)}")


def parse_utc_ns(values: pd.Series, source: str, column: str) -> pd.Series:
    """ISO-8601 timestamps to UTC nanoseconds; a naive or unparseable stamp names its line."""
    try:
        stamps = pd.to_datetime(values, utc=True, format="ISO8601")
    except (ValueError, TypeError) as exc:
        raise RunDataError(f"{source}: column {column}: not an ISO-8601 UTC timestamp ({exc})") from None
    missing = stamps.isna()
    if missing.any():
        raise RunDataError(f"{source}: {_line(missing.idxmax())}: column {column} is empty")
    return stamps.dt.as_unit("ns").astype("int64")


def prepare_fills(fills: pd.DataFrame, source: str = FILLS_FILE) -> pd.DataFrame:
    """Validated leg fills with ``ts_ns`` (UTC ns) and ``signed_qty`` (+ bought, - sold), in time order.

    Rows of one timestamp keep their file order: the engine emits a combo's leg fills one by one at the
    same timestamp, and the audit treats them as one instant.
    """
    require_columns(fills, FILLS_COLUMNS, source)
    frame = fills.copy()
    frame["side"] = frame["side"].astype(str).str.upper()
    frame["role"] = frame["role"].astype(str).str.lower()
    frame["right"] = frame["right"].astype(str).str.upper()
    for column, allowed in (("side", tuple(_SIDE_SIGN)), ("role", _ROLES), ("right", _RIGHTS)):
        bad = ~frame[column].isin(allowed)
        if bad.any():
            index = bad.idxmax()
            raise RunDataError(
                f"{source}: {_line(index)}: column {column} is {str(fills.loc[index, column])!r};"
                f" expected one of {', '.join(allowed)}"
            )
    quantity = pd.to_numeric(frame["quantity"], errors="coerce")
    bad = ~(quantity > 0) | (quantity != quantity.round())
    if bad.any():
        index = bad.idxmax()
        raise RunDataError(
            f"{source}: {_line(index)}: column quantity is {str(fills.loc[index, 'quantity'])!r};"
            " expected a positive whole number of contracts (the side carries the sign)"
        )
    frame["quantity"] = quantity.astype("int64")
    frame["signed_qty"] = frame["quantity"] * frame["side"].map(_SIDE_SIGN)
    frame["exit_kind"] = frame["exit_kind"].fillna("").astype(str)
    frame["ts_ns"] = parse_utc_ns(frame["ts_event"], source, "ts_event")
    for column in ("strategy_id", "package_id", "instrument_id", "underlying", "expiry"):
        frame[column] = frame[column].astype(str)
    return frame.sort_values("ts_ns", kind="stable")


def read_fills(path: Path) -> pd.DataFrame:
    return _read_csv(path, FILLS_COLUMNS)


def read_positions(path: Path) -> pd.DataFrame:
    """Packages with ``realized_pnl`` as numbers (empty = still open at the end of the run)."""
    frame = _read_csv(path, POSITIONS_COLUMNS)
    return prepare_positions(frame, str(path))


def prepare_positions(positions: pd.DataFrame, source: str = POSITIONS_FILE) -> pd.DataFrame:
    require_columns(positions, POSITIONS_COLUMNS, source)
    frame = positions.copy()
    text = frame["realized_pnl"].astype(str).str.strip()
    pnl = pd.to_numeric(text.where(~text.isin(["", "nan", "None"])), errors="coerce")
    bad = pnl.isna() & ~text.isin(["", "nan", "None"])
    if bad.any():
        index = bad.idxmax()
        raise RunDataError(
            f"{source}: {_line(index)}: column realized_pnl is {str(positions.loc[index, 'realized_pnl'])!r};"
            " expected dollars (or empty for a package still open)"
        )
    frame["realized_pnl"] = pnl.astype("float64")
    for column in ("package_id", "strategy_id", "symbol", "closed_at", "trading_date"):
        frame[column] = frame[column].fillna("").astype(str)
    return frame


def _read_csv(path: Path, columns: tuple[str, ...]) -> pd.DataFrame:
    if not path.is_file():
        raise RunDataError(f"{path}: no such file; the backtest writes it into the run folder")
    if path.stat().st_size == 0:  # a run with nothing to report may leave the file empty
        return pd.DataFrame({c: pd.Series(dtype="str") for c in columns})
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    require_columns(frame, columns, str(path))
    return frame


def read_decisions(path: Path) -> list[dict]:
    """Journal records, read by the journal's own reader (it knows a line cut short by a crash)."""
    if not path.is_file():
        raise RunDataError(f"{path}: no such file; the backtest writes the kernel's journal into the run folder")
    try:
        return list(read_journal(path))
    except JournalError as exc:
        raise RunDataError(f"{path}: line {exc.line}: not valid JSON ({exc.detail})") from None
