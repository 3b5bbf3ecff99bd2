"""The Gamma Scalper's GEX filter filters: it trades a short-gamma day and refuses the others.

In the default sample run it had traded on every day: its threshold was 1 bn dollars of GEX per 1 % move,
read on every bar, and a 0DTE gamma grows through the day, so some minute of nearly every session crossed
it. The signal is now the tilt of dealer gamma (GEX over the gross), read once, at the day's first entry
check (``strategies/gamma_scalper.py``).
"""

from __future__ import annotations

import pytest

from tests.strategy_kit import PUT_HEAVY_OPEN_INTEREST, STRIKES, C, Days, Market, P, gamma_scalper, option_id

CALL_HEAVY_OPEN_INTEREST = {option_id(C(k)): 20_000 for k in STRIKES}
"""Open interest on the calls only: dealers long gamma everywhere (positive GEX, a pinned market)."""

# At 10:00 (index 5550) the 5540 calls outweigh the 5570 puts' gamma: tilt about +0.18, a positive-GEX day.
# After the 11:00 rally to 5565 the 5570 puts are at the money: tilt about -0.41, which a per-bar read takes.
FLIPS_LATER = {option_id(C(5540)): 2000, option_id(P(5570)): 2000}


@pytest.fixture
def days(tmp_path):
    with Days(tmp_path) as opened:
        yield opened


def _entries(day) -> list[dict]:
    return [d for d in day.decisions() if d["intent"]["kind"] == "entry"]


def test_the_gamma_scalper_trades_a_negative_gex_day(days):
    scalper = gamma_scalper(max_entries_per_day=1, strength_sizes=(1, 1))
    day = days(Market(), [scalper], open_interest=PUT_HEAVY_OPEN_INTEREST).run()
    assert [r.strategy_id for r in day.packages()] == ["GammaScalper-002"]
    assert scalper.strength is not None and scalper.strength >= 1.0


def test_the_gamma_scalper_refuses_a_positive_gex_day(days):
    scalper = gamma_scalper(max_entries_per_day=1, strength_sizes=(1, 1))
    day = days(Market(), [scalper], open_interest=CALL_HEAVY_OPEN_INTEREST).run()
    assert day.packages() == [] and _entries(day) == []
    assert scalper.strength == 0.0


def test_the_gex_signal_is_read_once_a_day_not_on_every_bar(days):
    """A positive-GEX morning stays a day off when a rally turns the tilt negative at 11:00: the day's regime
    is read once, so 240 minutes of readings do not give the filter 240 chances to let a trade through."""
    scalper = gamma_scalper(max_entries_per_day=1, strength_sizes=(1, 1))
    day = days(Market().index("11:00", 5565.0), [scalper], open_interest=FLIPS_LATER).run()
    assert day.packages() == [] and _entries(day) == []
