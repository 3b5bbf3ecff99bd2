"""The exit policies that fit each structure, driven by a scripted market through a real engine.

Each scenario moves one thing so that one rule can fire, and the exit must carry that rule's kind into the
run folder. Entries (opening quotes, index 5550, filled at 10:00:30), as in test_strategy_stops.py:
- iron fly, Theta Harvester: short 5550C/P at 7.90, long 5575C/5525P at 3.10: a 9.60 credit, body 5550,
  breakevens 5540.40 / 5559.60, maximum loss 15.40; marked at the mid, 10.00 to close;
- strangle, Gamma Scalper: long 5565C + 5535P at 5.10 + 5.10 = 10.20 debit, marked at the mid 10.00.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
import pytest

from odte_nautilus.risk.model import ExitKind
from tests.strategy_kit import FEE, C, Days, Market, P, gamma_scalper, quoted_at, theta_harvester


@dataclass(frozen=True)
class Scenario:
    structure: str
    exit: dict
    market: Market
    closes_at: int

    def strategy(self):
        if self.structure == "strangle":
            return gamma_scalper(max_entries_per_day=1, strength_sizes=(1, 1), exit=self.exit)
        return theta_harvester(max_entries_per_day=1, take_profit_partial_pct=None, exit=self.exit)


FLY_OFF = {"kind": "iron_fly", "loss_credit_multiple": None, "breakeven_fraction": None, "time_exit": None}

SCENARIOS = {
    # The body reprices to 9.20/9.40: the fly costs 2 x 9.30 - 2 x 3.00 = 12.60 at the mid, over 9.60 x 1.25
    # = 12.00 (a quarter of the credit lost); the index does not move.
    "fly_stop_loss": (
        ExitKind.STOP_LOSS,
        Scenario(
            "fly",
            {**FLY_OFF, "loss_credit_multiple": 0.25},
            Market().quote("10:03", {C(5550): (9.2, 9.4), P(5550): (9.2, 9.4)}),
            quoted_at("10:03"),
        ),
    ),
    # The index goes to 5558 at 10:05: 8 points from the body, past 0.75 x 9.60 = 7.20 of the way to 5559.60.
    "fly_breakeven": (
        ExitKind.STOP_BREAKEVEN,
        Scenario("fly", {**FLY_OFF, "breakeven_fraction": 0.75}, Market().index("10:05", 5558.0), quoted_at("10:05")),
    ),
    # Nothing moves; the fly is closed at 11:00, on its 11:00 quote.
    "fly_time_exit": (
        ExitKind.TIME_EXIT,
        Scenario("fly", {**FLY_OFF, "time_exit": "11:00"}, Market(), quoted_at("11:00")),
    ),
    # Both legs reprice to 3.40/3.60: the mark 7.00 has lost over 30 % of the 10.20 debit.
    "strangle_stop_loss": (
        ExitKind.STOP_LOSS,
        Scenario(
            "strangle",
            {"kind": "strangle", "loss_debit_fraction": 0.3, "time_stop_minutes": None},
            Market().quote("10:03", {C(5565): (3.4, 3.6), P(5535): (3.4, 3.6)}),
            quoted_at("10:03"),
        ),
    ),
    # Nothing moves: 30 minutes after the 10:00:30 entry the mark (10.00) is still under the debit.
    "strangle_no_move": (
        ExitKind.STOP_NO_MOVE,
        Scenario(
            "strangle",
            {"kind": "strangle", "loss_debit_fraction": None, "time_stop_minutes": 30},
            Market(),
            quoted_at("10:30"),
        ),
    ),
    # Held: neither the 12-point move the seed's stop closes a fly on nor anything else closes it before 15:45.
    "fly_hold": (
        ExitKind.EOD_FLATTEN,
        Scenario("fly", {"kind": "hold"}, Market().index("10:05", 5562.0), quoted_at("15:45")),
    ),
}


@pytest.fixture
def days(tmp_path):
    with Days(tmp_path) as opened:
        yield opened


def _ns(iso: str) -> int:
    return pd.Timestamp(iso).value


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_each_exit_rule_fires_alone_at_its_level_and_names_the_exit(days, name):
    kind, scenario = SCENARIOS[name]
    strategy = scenario.strategy()
    day = days(scenario.market, [strategy]).run()
    (record,) = day.packages()
    assert record.exit_kinds == kind.value
    assert _ns(record.closed_at) == scenario.closes_at
    legs = 2 if scenario.structure == "strangle" else 4
    exit_legs = day.fills(role="exit", package_id=record.package_id)
    assert sorted(f.exit_kind for f in exit_legs) == [kind.value] * legs
    assert record.fees == pytest.approx(2 * legs * FEE)
    exits = [d for d in day.decisions() if d["intent"]["kind"] == "exit"]
    assert [(d["intent"]["exit_kind"], d["decision"]["allowed"]) for d in exits] == [(kind.value, True)]
    assert day.positions() == {} and strategy.packages == {} and day.book.packages == {}


def test_the_time_stop_keeps_a_strangle_whose_move_has_come(days):
    """11:00: the index rallies 20 points and the call reprices to 19.90/20.10, the put to 0.90/1.10: the mark
    21.00 is over the debit, so the 30-minute time stop keeps it; the flatten closes it."""
    market = Market().index("10:20", 5570.0).quote("10:20", {C(5565): (19.9, 20.1), P(5535): (0.9, 1.1)})
    scalper = gamma_scalper(
        max_entries_per_day=1,
        strength_sizes=(1, 1),
        take_profit_full_pct=None,
        exit={"kind": "strangle", "loss_debit_fraction": 0.5, "time_stop_minutes": 30},
    )
    day = days(market, [scalper]).run()
    (record,) = day.packages()
    assert record.exit_kinds == ExitKind.EOD_FLATTEN.value


def test_the_profile_wins_seed_000s_live_profile_keeps_its_four_dimensional_stop(days):
    """Under single_position_0dte the strangle exit the config asks for is not used: nothing moves, and the
    seed's 8-minute no-progress stop closes the strangle (the strangle's 30-minute time stop would wait)."""
    scalper = gamma_scalper(
        max_entries_per_day=1, strength_sizes=(1, 1), exit={"kind": "strangle", "time_stop_minutes": 30}
    )
    day = days(Market(), [scalper], profile="single_position_0dte").run()
    (record,) = day.packages()
    assert record.exit_kinds == ExitKind.STOP_NO_PROGRESS.value
    assert quoted_at("10:08") <= _ns(record.closed_at) < quoted_at("10:09")


def test_an_exit_policy_that_does_not_fit_the_structure_is_refused_at_start(days):
    scalper = gamma_scalper(exit={"kind": "iron_fly"})
    day = days(Market(), [scalper])
    with pytest.raises(Exception, match="iron_fly does not fit a STRANGLE"):
        day.run()
