"""The node guard after a restart: the package the run's fills hold open, the row it writes for it, and the
flatten it owes a session already past its flatten time.

Figures from a real alpaca-sim session: the Theta Harvester's iron fly entered at 10:01 and flattened at
15:10, whose ``positions.csv`` row the strategy's ledger wrote as entry -1.89, exit -1.13, P&L 75.52 after
0.48 of fees. Rebuilt from the leg fills alone, the guard's row must say the same.
"""

from __future__ import annotations

from datetime import date

import pytest

from odte_nautilus.node_guard import _open_packages, _Recovered, flatten_session
from odte_nautilus.recorder import LegFill, PackageRecord, RunRecorder
from odte_nautilus.risk.session import TradingCalendar, ny_ns

PACKAGE = "ThetaHarvester-001-20240722-2"
STRATEGY = "ThetaHarvester-001"
ENTRY, EXIT = "2024-07-22T14:02:00.000000000Z", "2024-07-22T19:10:00.000000000Z"
LEGS = [("C", 556.0, "SELL", 1.38, 0.36), ("C", 559.0, "BUY", 0.31, 0.0), ("P", 553.0, "BUY", 0.44, 0.05),
        ("P", 556.0, "SELL", 1.26, 0.82)]  # fmt: skip


def leg(right: str, strike: float, side: str, price: float, exit_leg: bool) -> LegFill:
    iid = f"SPY   240722{right}00{int(strike * 1000):06d}.ALPACA"
    flipped = {"BUY": "SELL", "SELL": "BUY"}[side] if exit_leg else side
    role, kind = ("exit", "eod_flatten") if exit_leg else ("entry", "")
    ts = EXIT if exit_leg else ENTRY
    return LegFill(
        ts, STRATEGY, PACKAGE, iid, flipped, 1, price, role, kind, "SPY", right, strike, "2024-07-22", 0.06, price
    )


def entries() -> list[LegFill]:
    return [leg(r, k, side, entry, False) for r, k, side, entry, _ in LEGS]


def exits() -> list[LegFill]:
    return [leg(r, k, side, close, True) for r, k, side, _, close in LEGS]


def test_a_package_rebuilt_from_its_leg_fills_is_priced_as_its_ledger_priced_it():
    package = _Recovered(STRATEGY, PACKAGE, [*entries(), *exits()])
    assert package.open_legs() == {}
    record = package.record()
    assert (record.entry_price, record.exit_price, record.realized_pnl, record.fees) == (-1.89, -1.13, 75.52, 0.48)
    assert (record.opened_at, record.closed_at, record.quantity) == (ENTRY, EXIT, 1)
    assert record.exit_kinds == "eod_flatten" and record.trading_date == "2024-07-22"
    assert record.reviews == "RECOVERED_AFTER_RESTART"


def test_the_packages_a_restarted_node_finds_open_are_those_its_run_files_hold_open(tmp_path):
    before = RunRecorder(append_to=tmp_path)
    for fill in entries():
        before.leg_fill(fill)
    closed = _Recovered("GammaScalper-002", "G-1", [])
    before.leg_fill(LegFill(ENTRY, "GammaScalper-002", "G-1", "X", "BUY", 1, 1.0, "entry", "", "SPY", "C", 560.0,
                            "2024-07-22", 0.06, 1.0))  # fmt: skip
    before.package_closed(PackageRecord("G-1", "GammaScalper-002", "SPY", "STRANGLE", ENTRY, EXIT, 1, 1.0, 0.0,
                                        -100.12, 0.12, "settlement", "2024-07-22", ""))  # fmt: skip
    found = _open_packages(RunRecorder(append_to=tmp_path))  # the node started again on the run folder
    assert list(found) == [(STRATEGY, PACKAGE)] and closed.open_legs() == {}
    assert found[(STRATEGY, PACKAGE)].open_legs() == {
        f.instrument_id: (1 if f.side == "BUY" else -1) for f in entries()
    }


def test_a_fresh_run_has_nothing_to_recover(tmp_path):
    assert _open_packages(RunRecorder(append_to=tmp_path)) == {}
    assert _open_packages(RunRecorder()) == {}


@pytest.mark.parametrize(
    ("started", "flattens"),
    [
        (ny_ns(date(2024, 7, 22), 9, 30), date(2024, 7, 22)),  # a fresh day: today's flatten, 15:10
        (ny_ns(date(2024, 7, 22), 15, 10), date(2024, 7, 22)),  # at the flatten
        (ny_ns(date(2024, 7, 22), 15, 30), date(2024, 7, 22)),  # restarted after it, before the close: at once
        (ny_ns(date(2024, 7, 22), 16, 0), date(2024, 7, 23)),  # closed: the next session's
        (ny_ns(date(2024, 7, 20), 12, 0), date(2024, 7, 22)),  # a Saturday: Monday's
    ],
)
def test_the_flatten_a_node_owes_is_the_first_session_not_yet_closed(started, flattens):
    session = flatten_session(TradingCalendar(), 50, started)
    assert session is not None and session.trading_date == flattens
    assert session.flatten_ns == ny_ns(flattens, 15, 10)
