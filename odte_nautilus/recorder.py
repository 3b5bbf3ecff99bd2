"""The run recorder: every leg fill and every closed package, as the run folder's CSV files.

Nautilus's own fills report leaves out a spread's leg fills (docs/decisions/0006), so the strategies hand
each leg fill here as it happens; ``fills.csv`` is then the engine's fills, leg by leg, which is what the independent
invariant audit replays. ``positions.csv`` has one row per package, the trade unit.

A backtest keeps its rows in memory and writes both files once, at the end (``write``). A live node's
recorder is durable (``RunRecorder(append_to=run_dir)``): each row is appended to its file with one write
and flushed at once, as the audit journal's lines are, so a node killed with SIGKILL loses at most the row
being written, and a node started again on the same run folder appends to the same files. ``write`` then
rewrites each file whole, in time order (before and after the restart), for the audit. A row cut short by
a crash is dropped when the file is reopened, with a warning: it is half a row, never a fill.
"""

from __future__ import annotations

import csv
import io
import logging
import os
from collections.abc import Iterable
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import IO, Any

from odte_nautilus.reports.frames import FILLS_FILE, POSITIONS_FILE

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class LegFill:
    ts_event: str
    strategy_id: str
    package_id: str
    instrument_id: str
    side: str  # BUY / SELL
    quantity: int
    price: float
    role: str  # entry / exit
    exit_kind: str  # "" on entries; "settlement" for expiry
    underlying: str
    right: str  # C / P
    strike: float
    expiry: str  # ISO date
    fee: float
    mid: float  # the leg's mid when it filled (its price for a settlement): what the spread is measured from


@dataclass(frozen=True, slots=True)
class PackageRecord:
    package_id: str
    strategy_id: str
    symbol: str
    structure: str
    opened_at: str
    closed_at: str
    quantity: int
    entry_price: float
    exit_price: float
    realized_pnl: float  # dollars, after fees
    fees: float
    exit_kinds: str  # ";"-joined
    trading_date: str
    reviews: str  # seed 003 post-entry checks that failed, ";"-joined


class RecorderError(RuntimeError):
    """A run folder's CSV file the recorder cannot continue (another layout)."""


class RunRecorder:
    def __init__(self, append_to: str | Path | None = None) -> None:
        """In memory (``append_to`` None: a backtest), or appending each row durably to ``append_to``'s files
        (a live node), after the rows already there (a node started again on its run folder)."""
        self.fills: list[LegFill] = []  # this process's rows
        self.packages: list[PackageRecord] = []
        self._fills_file: _RowFile[LegFill] | None = None
        self._packages_file: _RowFile[PackageRecord] | None = None
        if append_to is not None:
            run_dir = Path(append_to)
            run_dir.mkdir(parents=True, exist_ok=True)
            self._fills_file = _RowFile(run_dir / FILLS_FILE, LegFill)
            self._packages_file = _RowFile(run_dir / POSITIONS_FILE, PackageRecord)

    @property
    def durable(self) -> bool:
        return self._fills_file is not None

    def leg_fill(self, fill: LegFill) -> None:
        self.fills.append(fill)
        if self._fills_file is not None:
            self._fills_file.append(fill)

    def package_closed(self, record: PackageRecord) -> None:
        self.packages.append(record)
        if self._packages_file is not None:
            self._packages_file.append(record)

    def run_fills(self) -> list[LegFill]:
        """Every leg fill of the run: those a node before this one recorded in the run folder, then this one's."""
        earlier = self._fills_file.earlier if self._fills_file is not None else []
        return [*earlier, *self.fills]

    def run_packages(self) -> list[PackageRecord]:
        earlier = self._packages_file.earlier if self._packages_file is not None else []
        return [*earlier, *self.packages]

    def write(self, run_dir: str | Path) -> None:
        """The run folder's two files, each row in time order (a durable recorder's files are closed)."""
        run_dir = Path(run_dir)
        run_dir.mkdir(parents=True, exist_ok=True)
        fills, packages = self.run_fills(), self.run_packages()
        self.close()
        _write_rows(run_dir / FILLS_FILE, LegFill, sorted(fills, key=lambda f: f.ts_event))
        _write_rows(run_dir / POSITIONS_FILE, PackageRecord, sorted(packages, key=lambda p: p.opened_at))

    def close(self) -> None:
        for row_file in (self._fills_file, self._packages_file):
            if row_file is not None:
                row_file.close()


class _RowFile[Row: (LegFill, PackageRecord)]:
    """One CSV file appended a row at a time, each row one write, flushed at once."""

    def __init__(self, path: Path, row_type: type[Row]) -> None:
        self.path = path
        self._names = [f.name for f in fields(row_type)]
        self.earlier: list[Row] = _read_rows(path, row_type, self._names) if path.exists() else []
        self._handle: IO[str] | None = None
        self._open()

    def _open(self) -> None:
        fresh = not self.path.exists() or self.path.stat().st_size == 0
        # Held open for the recorder's life (close() closes it), so no with-block.
        self._handle = self.path.open("a", newline="", encoding="utf-8")
        if fresh:
            self._write_line(dict(zip(self._names, self._names, strict=True)))

    def append(self, row: Row) -> None:
        if self._handle is None:
            self._open()
        self._write_line(asdict(row))

    def _write_line(self, values: dict[str, Any]) -> None:
        assert self._handle is not None, "opened before a row is written"
        line = io.StringIO()
        csv.DictWriter(line, fieldnames=self._names).writerow(values)
        self._handle.write(line.getvalue())
        self._handle.flush()

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None


_CONVERT = {"int": int, "float": float, "str": str}


def _read_rows[Row: (LegFill, PackageRecord)](path: Path, row_type: type[Row], names: list[str]) -> list[Row]:
    """The rows a run folder's file holds; a last row cut short by a crash is cut off the file."""
    raw = path.read_bytes()
    if raw and not raw.endswith(b"\n"):
        kept = raw[: raw.rfind(b"\n") + 1]
        log.warning("%s: its last row was cut short by a crash and is dropped: %r", path, raw[len(kept) :])
        with path.open("r+b") as handle:
            handle.truncate(len(kept))
            handle.flush()
            os.fsync(handle.fileno())
        raw = kept
    text = raw.decode("utf-8")
    reader = csv.DictReader(io.StringIO(text, newline=""))
    if text and reader.fieldnames != names:
        raise RecorderError(f"{path}: columns {reader.fieldnames}, not a recorder's {names}; use another run folder")
    kinds = {f.name: _CONVERT[str(f.type)] for f in fields(row_type)}
    return [row_type(**{name: kinds[name](value) for name, value in row.items()}) for row in reader]


def _write_rows[Row: (LegFill, PackageRecord)](path: Path, row_type: type[Row], rows: Iterable[Row]) -> None:
    """Write the whole file beside it and put it in place at once: a crash leaves the old file or the new."""
    partial = path.with_name(f".{path.name}.partial")
    with partial.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=[f.name for f in fields(row_type)])
        writer.writeheader()
        writer.writerows(asdict(row) for row in rows)
    partial.replace(path)
