"""The run summary on a small set whose figures are worked out by hand below."""

from __future__ import annotations

import json
import re
from datetime import date

import pandas as pd
import pytest
from rich.console import Console

from odte_nautilus.reports.frames import RunDataError
from odte_nautilus.reports.summary import TOTAL, build_summary, cost_split, render_table, summarize
from tests.run_folder_kit import (
    GAMMA,
    THETA,
    decision,
    fills_frame,
    iso,
    leg_fill,
    position,
    positions_frame,
    write_run,
)

MONDAY = date(2024, 3, 18)

# Close order and P&L:               cumulative   theta cum   gamma cum
#   Fri 10:30  F-1  theta  +100         100          100
#   Fri 10:45  G-1  gamma   -20          80                      -20
#   Fri 11:00  F-2  theta   -50          30           50
#   Fri 12:00  F-3  theta   -80         -50          -30
#   Mon 11:30  G-2  gamma   +10         -40                      -10
#   Mon 13:00  F-4  theta   +30         -10            0
# Max drawdown: total 100 -> -50 = 150; theta 100 -> -30 = 130; gamma 0 -> -20 = 20.
POSITIONS = positions_frame(  # deliberately not in close order
    position("F-4", 30.0, closed=iso(13, 0, day=MONDAY), day=MONDAY),
    position("F-1", 100.0, closed=iso(10, 30)),
    position("G-2", 10.0, strategy=GAMMA, closed=iso(11, 30, day=MONDAY), day=MONDAY),
    position("F-3", -80.0, closed=iso(12, 0)),
    position("G-1", -20.0, strategy=GAMMA, closed=iso(10, 45)),
    position("F-2", -50.0, closed=iso(11, 0)),
)
DECISIONS = [
    *(decision(THETA, True, "ALLOWED") for _ in range(4)),
    *(decision(GAMMA, True, "ALLOWED") for _ in range(2)),
    decision(THETA, False, "HARD_STOP"),
    decision(THETA, False, "HARD_STOP"),
    decision(THETA, False, "NO_NAKED_SHORT"),
    decision(GAMMA, False, "MAX_OPEN_PACKAGES_PER_SYMBOL"),
    decision("Manual-001", False, "KILL_SWITCH"),
    {"ts": iso(12, 0), "ts_ns": 1, "kind": "lock", "reason": "hard stop"},
    {"ts": iso(12, 1), "ts_ns": 2, "kind": "kill_switch", "on": True},
]


@pytest.fixture(scope="module")
def summary() -> dict:
    return build_summary(POSITIONS, DECISIONS)


def row(summary: dict, strategy: str) -> dict:
    return next(r for r in summary["strategies"] if r["strategy"] == strategy)


def test_per_strategy_figures(summary):
    assert row(summary, THETA) == {
        "strategy": THETA,
        "trades": 4,
        "pnl": 0.0,
        "max_drawdown": 130.0,
        "win_rate": 0.5,
        "avg_pnl": 0.0,
        "best_trade": 100.0,
        "worst_trade": -80.0,
        "refusals": {"HARD_STOP": 2, "NO_NAKED_SHORT": 1},
        "exits": {"take_profit_full": {"packages": 4, "pnl": 0.0}},
    }
    gamma = row(summary, GAMMA)
    assert (gamma["trades"], gamma["pnl"], gamma["max_drawdown"], gamma["avg_pnl"]) == (2, -10.0, 20.0, -5.0)
    assert (gamma["best_trade"], gamma["worst_trade"]) == (10.0, -20.0)


def test_total_row_uses_the_combined_curve(summary):
    total = summary["strategies"][-1]
    assert total["strategy"] == TOTAL
    assert (total["trades"], total["pnl"], total["max_drawdown"]) == (6, -10.0, 150.0)
    assert (total["win_rate"], total["avg_pnl"]) == (0.5, -1.67)  # -10 / 6
    assert (total["best_trade"], total["worst_trade"]) == (100.0, -80.0)


def test_refusals_by_reason_code_ignore_other_journal_kinds(summary):
    assert summary["refusals"] == {
        "HARD_STOP": 2,
        "KILL_SWITCH": 1,
        "MAX_OPEN_PACKAGES_PER_SYMBOL": 1,
        "NO_NAKED_SHORT": 1,
    }
    assert summary["decisions"] == {"allowed": 6, "refused": 5}


def test_a_strategy_with_only_refusals_still_gets_a_row(summary):
    manual = row(summary, "Manual-001")
    assert manual["trades"] == 0 and manual["pnl"] == 0.0 and manual["max_drawdown"] == 0.0
    assert manual["win_rate"] is None and manual["best_trade"] is None
    assert manual["refusals"] == {"KILL_SWITCH": 1}
    assert [r["strategy"] for r in summary["strategies"]] == [GAMMA, "Manual-001", THETA, TOTAL]


def test_exits_by_kind_carry_their_packages_and_pnl_worst_first():
    positions = positions_frame(
        {**position("F-1", 100.0, closed=iso(10, 30)), "exit_kinds": "take_profit_partial;take_profit_full"},
        {**position("F-2", -50.0, closed=iso(11, 0)), "exit_kinds": "stop_underlying_move"},
        {**position("F-3", -80.0, closed=iso(12, 0)), "exit_kinds": "stop_underlying_move"},
        {**position("F-4", 30.0, closed=iso(13, 0)), "exit_kinds": "eod_flatten"},
    )
    exits = row(build_summary(positions, []), THETA)["exits"]
    assert exits == {
        "stop_underlying_move": {"packages": 2, "pnl": -130.0},
        "eod_flatten": {"packages": 1, "pnl": 30.0},
        "take_profit_full": {"packages": 1, "pnl": 100.0},  # a package closed in parts: under its last exit
    }
    assert list(exits) == ["stop_underlying_move", "eod_flatten", "take_profit_full"]


def test_daily_pnl_by_trading_date(summary):
    assert summary["daily_pnl"] == {"2024-03-15": -50.0, "2024-03-18": 40.0}


def test_drawdown_counts_from_zero_when_the_first_trade_loses():
    positions = positions_frame(position("F-1", -40.0, closed=iso(11, 0)), position("F-2", 25.0, closed=iso(12, 0)))
    s = build_summary(positions, [])
    assert s["strategies"][-1]["max_drawdown"] == 40.0


def test_zero_pnl_is_not_a_win():
    positions = positions_frame(position("F-1", 0.0, closed=iso(11, 0)), position("F-2", 1.0, closed=iso(12, 0)))
    s = build_summary(positions, [])
    assert s["strategies"][-1]["win_rate"] == 0.5


def test_open_packages_are_counted_but_not_in_the_pnl():
    positions = positions_frame(position("F-1", 100.0, closed=iso(11, 0)), position("F-2", None))
    s = build_summary(positions, [])
    assert s["open_packages"] == 1
    assert s["strategies"][-1]["trades"] == 1


def test_empty_run():
    s = build_summary(positions_frame(), [])
    assert s["strategies"] == [
        {
            "strategy": TOTAL,
            "trades": 0,
            "pnl": 0.0,
            "max_drawdown": 0.0,
            "win_rate": None,
            "avg_pnl": None,
            "best_trade": None,
            "worst_trade": None,
            "refusals": {},
            "exits": {},
        }
    ]
    assert s["refusals"] == {} and s["daily_pnl"] == {} and s["open_packages"] == 0


def test_summary_is_json_serializable(summary):
    assert json.loads(json.dumps(summary)) == summary


def test_summarize_reads_the_run_folder(tmp_path, summary):
    run = write_run(tmp_path / "run", fills_frame(), POSITIONS, DECISIONS)
    assert summarize(run) == summary


def test_summarize_with_an_empty_positions_file(tmp_path):
    run = write_run(tmp_path / "run", fills_frame(), positions_frame(), [])
    (run / "positions.csv").write_text("")
    assert summarize(run)["strategies"][-1]["trades"] == 0


def test_a_broken_journal_line_is_named(tmp_path):
    run = write_run(tmp_path / "run", fills_frame(), POSITIONS, DECISIONS)
    with (run / "decisions.jsonl").open("a") as journal:
        journal.write("{not json\n")
    with pytest.raises(RunDataError, match=r"decisions.jsonl: line 14: not valid JSON"):
        summarize(run)


def test_a_decision_without_allowed_is_refused():
    broken = decision(THETA, False, "HARD_STOP")
    del broken["decision"]["allowed"]
    with pytest.raises(RunDataError, match=re.escape("no boolean decision.allowed")):
        build_summary(POSITIONS, [broken])


def test_a_bad_realized_pnl_names_its_line():
    positions = positions_frame(position("F-1", 100.0, closed=iso(11, 0)), position("F-2", 1.0, closed=iso(12, 0)))
    positions["realized_pnl"] = positions["realized_pnl"].astype(str)
    positions.loc[1, "realized_pnl"] = "ten dollars"
    with pytest.raises(RunDataError, match="line 3: column realized_pnl is 'ten dollars'"):
        build_summary(positions, [])


def test_console_table(summary):
    console = Console(record=True, width=200)
    console.print(render_table(summary))
    text = console.export_text()
    lines = [line for line in text.splitlines() if THETA in line or TOTAL in line]
    assert len(lines) == 2
    theta, total = lines
    assert "+100.00" in theta and "-80.00" in theta and "50.0%" in theta and "HARD_STOP 2" in theta
    assert "150.00" in total and "-10.00" in total
    assert render_table(summary).row_count == 4


def test_cost_split_explains_the_pnl_as_move_minus_spread_minus_fees():
    """A long strangle bought at 3.10 + 3.10 (mids 3.00) and sold at 4.90 + 4.90 (mids 5.00), 0.65 a contract:
    the market moved +400 (2 x 2.00 x 100), the spread cost 40 (4 fills x 0.10 x 100), the fees 2.60."""

    def fill(side: str, leg: str, price: float, mid: float, role: str) -> dict:
        row = leg_fill(iso(10, 0 if role == "entry" else 30), "G-1", leg, side, price=price, role=role, strategy=GAMMA)
        return {**row, "exit_kind": "" if role == "entry" else "take_profit_full", "fee": 0.65, "mid": mid}

    fills = pd.DataFrame(
        [
            fill("BUY", "C5120", 3.1, 3.0, "entry"),
            fill("BUY", "P5080", 3.1, 3.0, "entry"),
            fill("SELL", "C5120", 4.9, 5.0, "exit"),
            fill("SELL", "P5080", 4.9, 5.0, "exit"),
        ]
    )
    positions = positions_frame(position("G-1", 357.4, strategy=GAMMA, closed=iso(10, 30)))
    split = cost_split(fills, positions)[GAMMA]
    assert split == {
        "realized_pnl": 357.4,
        "market_move": 400.0,
        "spread_paid": 40.0,
        "fees": 2.6,
        "residual": 0.0,
    }
