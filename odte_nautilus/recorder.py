"""The run recorder: every leg fill and every closed package, as the run folder's CSV files.

Nautilus's own fills report leaves out a spread's leg fills (docs/decisions/0006), so the strategies hand
each leg fill here as it happens; ``fills.csv`` is then the engine's fills, leg by leg, which is what the independent
invariant audit replays. ``positions.csv`` has one row per package, the trade unit.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from odte_nautilus.reports.frames import FILLS_FILE, POSITIONS_FILE


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


class RunRecorder:
    def __init__(self) -> None:
        self.fills: list[LegFill] = []
        self.packages: list[PackageRecord] = []

    def leg_fill(self, fill: LegFill) -> None:
        self.fills.append(fill)

    def package_closed(self, record: PackageRecord) -> None:
        self.packages.append(record)

    def write(self, run_dir: str | Path) -> None:
        run_dir = Path(run_dir)
        run_dir.mkdir(parents=True, exist_ok=True)
        _write_rows(run_dir / FILLS_FILE, LegFill, sorted(self.fills, key=lambda f: f.ts_event))
        _write_rows(run_dir / POSITIONS_FILE, PackageRecord, sorted(self.packages, key=lambda p: p.opened_at))


def _write_rows[Row: (LegFill, PackageRecord)](path: Path, row_type: type[Row], rows: Iterable[Row]) -> None:
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=[f.name for f in fields(row_type)])
        writer.writeheader()
        writer.writerows(asdict(row) for row in rows)
