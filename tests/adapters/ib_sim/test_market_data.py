"""Market data replayed from the catalog: ticks per replayed minute, the index, 1-minute bars."""

from datetime import datetime

import ib_async as ibi

from odte_nautilus.risk.time_units import MINUTE_NS, NS_PER_SECOND
from tests.adapters.ib_sim.kit import atm_strike, connected, eventually, option, quote, short_fly


def _seconds(bar: ibi.BarData) -> int:
    """A bar's date (formatDate 2: a UTC datetime) in epoch seconds."""
    assert isinstance(bar.date, datetime)
    return int(bar.date.timestamp())


def test_option_quotes_arrive_at_once_and_with_every_replayed_minute(sim):
    with connected(sim) as ib:
        call = ib.qualifyContracts(option(sim, "C", atm_strike(sim)))[0]
        ticker = ib.reqMktData(call)
        for _ in range(3):
            q = quote(sim, call)
            want = (float(q.bid), float(q.ask), float(q.bid_size), float(q.ask_size))

            def shows(w: tuple[float, ...] = want) -> bool:
                return (ticker.bid, ticker.ask, ticker.bidSize, ticker.askSize) == w

            eventually(ib, shows, "the quote")
            sim.step_minute()


def test_the_index_ticks_its_last_at_each_replayed_bar(sim):
    with connected(sim) as ib:
        ticker = ib.reqMktData(ibi.Index("SPX", "CBOE", conId=416904))
        for _ in range(2):
            bar = sim.market.last_bar
            assert bar is not None

            def shows(close: float = float(bar.close)) -> bool:
                return ticker.last == close

            eventually(ib, shows, "the index's last")
            sim.step_minute()


def test_minute_bars_keep_up_to_date_stamped_at_their_open(sim):
    sim.step_minute()
    with connected(sim) as ib:
        bars = ib.reqHistoricalData(ibi.Index("SPX", "CBOE", conId=416904), "", "1 D", "1 min", "TRADES", True, 2, True)
        replayed = sim.market.replayed_bars()
        assert [b.close for b in bars] == [float(b.close) for b in replayed]
        assert [_seconds(b) for b in bars] == [(b.ts - MINUTE_NS) // NS_PER_SECOND for b in replayed]
        sim.step_minute()
        new = sim.market.last_bar
        assert new is not None
        eventually(ib, lambda: len(bars) == len(replayed) + 2, "the finished bar and the next one's first update")
        done, started = bars[-2], bars[-1]
        ohlc = [float(v) for v in (new.open, new.high, new.low, new.close)]
        assert [done.open, done.high, done.low, done.close] == ohlc
        assert _seconds(done) == (new.ts - MINUTE_NS) // NS_PER_SECOND
        assert _seconds(started) == new.ts // NS_PER_SECOND and started.open == started.close == done.close


def test_a_snapshot_answers_once_and_ends(sim):
    with connected(sim) as ib:
        call = ib.qualifyContracts(option(sim, "C", atm_strike(sim)))[0]
        [ticker] = ib.reqTickers(call)
        assert (ticker.bid, ticker.ask) == (float(quote(sim, call).bid), float(quote(sim, call).ask))


def test_a_combo_quotes_its_net_bid_and_ask(sim):
    with connected(sim) as ib:
        bag, legs = short_fly(ib, sim)
        ticker = ib.reqMktData(bag)
        c, p, wc, wp = (quote(sim, leg) for leg in legs)
        bid = wc.bid + wp.bid - c.ask - p.ask  # buying the combo: sell the straddle, buy the wings
        ask = wc.ask + wp.ask - c.bid - p.bid
        eventually(ib, lambda: (ticker.bid, ticker.ask) == (float(bid), float(ask)), "the combo's quote")
        assert bid < ask < 0  # a credit either way: the straddle is worth more than the wings


def test_tick_by_tick_bid_ask_follows_each_replayed_quote(sim):
    with connected(sim) as ib:
        call = ib.qualifyContracts(option(sim, "C", atm_strike(sim)))[0]
        assert call is not None
        ticker = ib.reqTickByTickData(call, "BidAsk")
        for _ in range(2):
            q = quote(sim, call)

            def shows(bid: float = float(q.bid), ask: float = float(q.ask)) -> bool:
                last = ticker.tickByTicks[-1] if ticker.tickByTicks else None
                return isinstance(last, ibi.TickByTickBidAsk) and (last.bidPrice, last.askPrice) == (bid, ask)

            eventually(ib, shows, "the tick")
            sim.step_minute()
