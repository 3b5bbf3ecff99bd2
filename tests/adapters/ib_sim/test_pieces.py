"""The simulator's pure pieces: quote ticks that never show a crossed market, combo quotes, the pacing
counter, and contract matching as TWS matches a partial description."""

from datetime import date
from decimal import Decimal

import pytest

from odte_nautilus.sim.ib.contracts import Chain, Spec, _third_friday
from odte_nautilus.sim.ib.faults import Faults
from odte_nautilus.sim.ib.marketdata import QuoteTicker, combo_quote
from odte_nautilus.sim.replay import Market, Quote


def q(bid: str, ask: str, bid_size: int = 5, ask_size: int = 6) -> Quote:
    return Quote(0, Decimal(bid), Decimal(ask), bid_size, ask_size)


def replay_ticks(messages: list[list], start: Quote) -> list[tuple[Decimal, Decimal]]:
    """The (bid, ask) a client that builds a quote per tick sees after each tick."""
    bid, ask, seen = start.bid, start.ask, []
    for message in messages:
        if message[0] == 1 and message[3] == 1:
            bid = message[4]
        elif message[0] == 1 and message[3] == 2:
            ask = message[4]
        seen.append((bid, ask))
    return seen


@pytest.mark.parametrize(("before", "after"), [(q("1.0", "1.2"), q("1.5", "1.7")), (q("1.5", "1.7"), q("1.0", "1.2"))])
def test_a_jump_past_the_other_side_never_shows_a_crossed_quote(before, after):
    ticker = QuoteTicker(3, [("X", 1)])
    assert len(ticker.ticks({"X": before})) == 2
    seen = replay_ticks(ticker.ticks({"X": after}), before)
    assert seen[-1] == (after.bid, after.ask)
    assert all(bid < ask for bid, ask in seen)


def test_only_what_moved_is_sent():
    ticker = QuoteTicker(3, [("X", 1)])
    ticker.ticks({"X": q("1.0", "1.2")})
    assert ticker.ticks({"X": q("1.0", "1.2")}) == []
    assert ticker.ticks({"X": q("1.0", "1.2", bid_size=9)}) == [[2, 6, 3, 0, 9]]


def test_a_combo_quote_nets_its_legs_by_side_and_counts_whole_combos():
    latest = {"C": q("11.3", "11.7", 30, 26), "W": q("6.6", "6.8", 40, 8)}
    quote = combo_quote([("C", -1), ("W", 2)], latest)
    assert quote is not None
    assert (quote.bid, quote.ask) == (Decimal("-11.7") + 2 * Decimal("6.6"), Decimal("-11.3") + 2 * Decimal("6.8"))
    assert (quote.bid_size, quote.ask_size) == (min(26, 40 // 2), min(30, 8 // 2))
    assert combo_quote([("C", -1), ("missing", 1)], latest) is None


def test_pacing_refuses_exactly_the_nth_request_of_its_kind():
    faults = Faults(pacing={"reqMktData": 3})
    assert [faults.paced("reqMktData") for _ in range(4)] == [False, False, True, False]
    assert not faults.paced("reqHistoricalData")


def test_partial_descriptions_match_as_tws_matches_them(catalog):
    chain = Chain(Market(catalog, "SPX", None))
    day = next(iter(chain.by_key.values())).expiry
    assert len(chain.find(Spec(sec_type="OPT", symbol="SPX", expiry=day))) == len(chain.by_key)
    assert len(chain.find(Spec(sec_type="OPT", symbol="SPX", expiry=day[:6], right="C"))) == len(chain.by_key) // 2
    assert chain.find(Spec(sec_type="OPT", symbol="SPX", expiry=day, trading_class="SPX")) == []  # no AM monthlies
    assert chain.find(Spec(sec_type="OPT", symbol="SPX", expiry=day, exchange="ISE")) == []
    assert chain.find(Spec(sec_type="IND", symbol="SPX", exchange="CBOE", expiry=day)) == [chain.index]
    one = next(iter(chain.by_key.values()))
    assert chain.find(Spec(local_symbol=one.local_symbol, sec_type="OPT")) == [one]
    assert chain.find(Spec(con_id=one.con_id)) == [one] and chain.find(Spec(con_id=1)) == []


def test_the_am_monthly_listed_is_the_next_third_friday():
    assert _third_friday(date(2024, 7, 1)) == date(2024, 7, 19)
    assert _third_friday(date(2024, 7, 22)) == date(2024, 8, 16)
