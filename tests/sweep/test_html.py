"""``sweep.html`` from a table alone: nulls as ``none``, runs with no trades, failed runs listed, not drawn."""

from __future__ import annotations

import re

from odte_nautilus.sweep.html import by_parameter_set, write_comparison
from odte_nautilus.sweep.results import table


def row(index, wing, take_profit, status="ok", pnl=0.0, trades=0, start="2024-07-22"):
    ran = status == "ok"
    return {
        "run": f"r{index}",
        "index": index,
        "status": status,
        "error": None if ran else "ValidationError: Expected `float`, got `str` - at `$.wing_points`",
        "param ThetaHarvester.wing_points": wing,
        "param ThetaHarvester.take_profit_full_pct": take_profit,
        "start": start,
        "end": start,
        "days": 1,
        "trades": trades if ran else None,
        "pnl": pnl if ran else None,
        "max_drawdown": max(-pnl, 0.0) if ran else None,
        "win_rate": (1.0 if pnl > 0 else 0.0) if ran and trades else None,
        "fees": 5.12 * trades if ran else None,
        "audit_ok": True if ran else None,
        "run_dir": f"runs/r{index}",
    }


def test_the_page_draws_each_pair_and_lists_the_failed_runs(tmp_path):
    frame = table(
        [
            row(0, 20, None, pnl=-100.0, trades=2),
            row(1, 20, 40, pnl=50.0, trades=2),
            row(2, 30, None),  # no trades: no win rate, not a zero one
            row(3, 30, 40, pnl=-20.0, trades=1),
            row(4, 30, 40, pnl=70.0, trades=1, start="2024-07-23"),
            row(5, 40, 40, status="failed"),
        ]
    )
    per_set = by_parameter_set(frame[frame["status"] == "ok"])
    assert len(per_set) == 4
    both = per_set[(per_set["param ThetaHarvester.wing_points"] == 30) & per_set["ranges"].eq(2)].iloc[0]
    assert both["pnl"] == 50.0 and both["trades"] == 2 and both["win_rate"] == 0.5
    page = write_comparison(frame, tmp_path, title="t").read_text()
    assert len(re.findall("data:image/png;base64,", page)) == 1
    assert "ThetaHarvester.take_profit_full_pct by ThetaHarvester.wing_points" in page
    assert "Runs that did not finish cleanly" in page and "Expected `float`" in page
    assert 'href="runs/r5/error.txt"' in page and 'href="runs/r1/report.html"' in page


def test_a_split_is_said_to_start_each_part_afresh_with_the_day_risk_went_off(tmp_path):
    parts = [row(0, 20, 40, pnl=-3000.0, trades=4) | {"part": "1/2", "risk_off_from": "2024-07-22"}]
    parts.append(row(1, 20, 40, pnl=10.0, trades=1, start="2024-07-23") | {"part": "2/2"})
    page = write_comparison(table(parts), tmp_path).read_text()
    assert "starts as a fresh account" in page and "2024-07-22" in page
    assert "fresh account" not in write_comparison(table([row(0, 20, 40)]), tmp_path).read_text()
