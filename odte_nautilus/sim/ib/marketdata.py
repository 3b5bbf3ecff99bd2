"""Market data a connection subscribed to, fed by the replay: quotes, the index, combos and bars.

- ``reqMktData`` on an option: ``tickPrice`` bid (1) and ask (2), each carrying its size (both decoders turn
  it into the size tick 0/3), or ``tickSize`` alone when only a size moved. When the new bid reaches the old
  ask the ask goes first (and the other way round), so a client that builds a quote per tick never sees one
  crossed that the replay never showed.
- on a combo (BAG, as Nautilus subscribes spreads): the same ticks for the combo's net bid and ask.
- on the index: ``tickPrice`` last (4) at each replayed bar's close.
- ``reqTickByTickData`` BidAsk on an option: one ``tickByTick`` (type 3) per replayed quote.
- ``reqHistoricalData`` on the index, 1-minute bars: the bars replayed so far, stamped at their open (IB's
  convention; the catalog stamps the close); with ``keepUpToDate`` each new bar follows as a
  ``historicalDataUpdate`` and then the first update of the next bar at the new bar's close price. Nautilus
  publishes a bar when the next one starts, so the catalog's bar reaches it as soon as it is replayed,
  stamped at its close, not a minute late. The session's last bar is not followed by another: Nautilus
  publishes it when its own bar timer runs out.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from odte_nautilus.risk.session import NEW_YORK
from odte_nautilus.risk.time_units import MINUTE_NS, NS_PER_SECOND
from odte_nautilus.sim.ib import outgoing
from odte_nautilus.sim.ib.outgoing import Message
from odte_nautilus.sim.ib.wire import Value
from odte_nautilus.sim.replay import Bar, Quote, Step

BID, ASK, LAST = 1, 2, 4
BID_SIZE, ASK_SIZE = 0, 3


@dataclass(slots=True)
class QuoteTicker:
    """``reqMktData`` on an option or a combo: legs (replay key, signed ratio); one leg of ratio 1 for an
    option. Remembers what it last sent, so only what moved goes out."""

    req_id: int
    legs: list[tuple[str, int]]
    sent: Quote | None = None

    def ticks(self, latest: dict[str, Quote]) -> list[Message]:
        quote = combo_quote(self.legs, latest)
        if quote is None or quote == self.sent:
            return []
        before, self.sent = self.sent, quote
        bid = outgoing.tick_price(self.req_id, BID, quote.bid, quote.bid_size)
        ask = outgoing.tick_price(self.req_id, ASK, quote.ask, quote.ask_size)
        if before is None:
            return [bid, ask]
        messages = []
        if quote.bid != before.bid:
            messages.append(bid)
        elif quote.bid_size != before.bid_size:
            messages.append(outgoing.tick_size(self.req_id, BID_SIZE, quote.bid_size))
        if quote.ask != before.ask:
            messages.insert(0 if quote.bid >= before.ask else len(messages), ask)
        elif quote.ask_size != before.ask_size:
            messages.append(outgoing.tick_size(self.req_id, ASK_SIZE, quote.ask_size))
        return messages


@dataclass(slots=True)
class TickByTick:
    req_id: int
    key: str
    sent: Quote | None = None

    def ticks(self, latest: dict[str, Quote]) -> list[Message]:
        quote = latest.get(self.key)
        if quote is None or quote == self.sent:
            return []
        self.sent = quote
        seconds = quote.ts // NS_PER_SECOND
        return [
            outgoing.tick_by_tick_bid_ask(self.req_id, seconds, quote.bid, quote.ask, quote.bid_size, quote.ask_size)
        ]


@dataclass(slots=True)
class BarFeed:
    """A ``keepUpToDate`` 1-minute bar subscription on the index."""

    req_id: int
    format_date: int
    last_bar_ts: int | None

    def updates(self, bar: Bar) -> list[Message]:
        done = outgoing.historical_data_update(
            self.req_id, bar_date(bar.ts - MINUTE_NS, self.format_date), bar.open, bar.high, bar.low, bar.close
        )
        if self.last_bar_ts is not None and bar.ts >= self.last_bar_ts:
            return [done]
        c = bar.close
        started = outgoing.historical_data_update(self.req_id, bar_date(bar.ts, self.format_date), c, c, c, c)
        return [done, started]


def combo_quote(legs: list[tuple[str, int]], latest: dict[str, Quote]) -> Quote | None:
    """The net bid and ask of buying ``legs`` (signed ratios), sizes in whole combos; ``None`` until every
    leg has a quote."""
    quotes = [latest.get(key) for key, _ in legs]
    if any(q is None for q in quotes):
        return None
    bid = ask = Decimal(0)
    bid_size = ask_size = None
    ts = 0
    for (_, ratio), quote in zip(legs, quotes, strict=True):
        assert quote is not None
        ts = max(ts, quote.ts)
        if ratio > 0:
            bid, ask = bid + ratio * quote.bid, ask + ratio * quote.ask
            bids, asks = quote.bid_size // ratio, quote.ask_size // ratio
        else:
            bid, ask = bid + ratio * quote.ask, ask + ratio * quote.bid
            bids, asks = quote.ask_size // -ratio, quote.bid_size // -ratio
        bid_size = bids if bid_size is None else min(bid_size, bids)
        ask_size = asks if ask_size is None else min(ask_size, asks)
    return Quote(ts, bid, ask, bid_size or 0, ask_size or 0)


def index_tick(req_id: int, bar: Bar) -> Message:
    return outgoing.tick_price(req_id, LAST, bar.close, 0)


def history(req_id: int, bars: list[Bar], format_date: int, end_ns: int) -> Message:
    """``historicalData``: every bar closing by ``end_ns``, stamped at its open."""
    rows: list[list[Value]] = [
        [bar_date(b.ts - MINUTE_NS, format_date), b.open, b.high, b.low, b.close, b.volume, b.close, 1]
        for b in bars
        if b.ts <= end_ns
    ]
    start = bars[0].ts - MINUTE_NS if bars else end_ns
    return outgoing.historical_data(req_id, _utc(start), _utc(end_ns), rows)


def bar_date(ts_ns: int, format_date: int) -> str:
    """formatDate 2: epoch seconds (what Nautilus asks for); 1: New York time with its zone."""
    if format_date == 2:
        return str(ts_ns // NS_PER_SECOND)
    return datetime.fromtimestamp(ts_ns / NS_PER_SECOND, tz=NEW_YORK).strftime("%Y%m%d %H:%M:%S US/Eastern")


def _utc(ts_ns: int) -> str:
    return datetime.fromtimestamp(ts_ns / NS_PER_SECOND, tz=UTC).strftime("%Y%m%d %H:%M:%S")


def step_ticks(step: Step, tickers: dict[int, QuoteTicker], latest: dict[str, Quote]) -> list[Message]:
    """The quote ticks a replayed step moves (only tickers with a leg quoted in the step)."""
    messages = []
    for ticker in tickers.values():
        if any(key in step.quotes for key, _ in ticker.legs):
            messages += ticker.ticks(latest)
    return messages
