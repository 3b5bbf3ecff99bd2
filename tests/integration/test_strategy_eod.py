"""The EOD flatten (design §9, seed 000): at close - 15 min every working order is cancelled first,
every package is closed with exit kind ``eod_flatten``, and the day is locked for good - a restart included.

One scripted day serves every test here (its run takes the time; the tests only read it):
- the Theta Harvester sells the 5550 iron fly at 10:00:30 and holds it (nothing moves) into the flatten;
- at 15:44 the harvester also rests a buy-back of its short call far below the market (an order of its own,
  working when the flatten comes at 15:45);
- the Gamma Scalper buys the 5565/5535 strangle at 15:40:30; at 15:44 its legs go no-bid: its premium stop
  fires but nothing is offered without a bid (a resting one-tick offer would be sold for a tick when the
  bids return), and at the flatten there is still no bid; the bids come back at 15:45:30 and the flatten
  sells the strangle there;
- at 15:50 another strategy (ThetaHarvester-009) tries to buy a call: an entry after the flatten.
"""

from __future__ import annotations

import pandas as pd
import pytest
from nautilus_trader.model.enums import OrderSide
from nautilus_trader.model.identifiers import InstrumentId
from nautilus_trader.model.objects import Price, Quantity

from odte_nautilus.risk.book import EOD_LOCK_REASON, RiskBook
from odte_nautilus.risk.decision import ReasonCode
from odte_nautilus.risk.model import Intent, IntentKind
from odte_nautilus.risk.policy import load_policy
from odte_nautilus.risk.session import TradingCalendar
from odte_nautilus.risk.time_units import NS_PER_SECOND
from odte_nautilus.strategies.theta_harvester import ThetaHarvester
from tests.strategy_kit import (
    SESSION,
    C,
    Days,
    Market,
    P,
    SendsAt,
    at,
    buy_call,
    gamma_scalper,
    leg,
    option_id,
    quoted_at,
    run_day,
    theta_harvester,
)

_WINDOW = TradingCalendar().session_window(SESSION.trading_date)
assert _WINDOW is not None
FLATTEN_NS = _WINDOW.flatten_ns
FLATTEN_QUOTE_ISO = "2024-07-23T19:45:30.000000000Z"
SLOW_CADENCE_NS = 5 * NS_PER_SECOND
STRANGLE = {C(5565): (4.9, 5.1), P(5535): (4.9, 5.1)}
NO_BID = {C(5565): (0.0, 5.1), P(5535): (0.0, 5.1)}


class RestsAnOrder(ThetaHarvester):
    """The harvester with one more working order of its own at the flatten: a far-below-market buy-back."""

    def on_start(self) -> None:
        super().on_start()
        self.clock.set_time_alert_ns("rest", at("15:44"), lambda event: self._rest())

    def _rest(self) -> None:
        call = InstrumentId.from_str(option_id(C(5550)))
        self.resting = self.order_factory.limit(call, OrderSide.BUY, Quantity.from_int(1), Price(0.05, 2))
        self.submit_order(self.resting)


@pytest.fixture(scope="module")
def day(tmp_path_factory):
    market = Market().quote("15:44", NO_BID).quote("15:45", STRANGLE)
    harvester = theta_harvester(RestsAnOrder)
    scalper = gamma_scalper(max_entries_per_day=1, entry_start="15:40", entry_end="15:42", strength_sizes=(1, 1))
    late = SendsAt("15:50", buy_call(5580, 1.0))
    run = run_day(tmp_path_factory.mktemp("eod"), market, [harvester, scalper, late])
    yield run
    run.close()


def _tagged(day, kind: str) -> list:
    return [o for o in day.cache.orders() if f"odte:exit={kind}" in (o.tags or [])]


def test_the_flatten_is_at_close_minus_15_minutes():
    assert at("15:45") == FLATTEN_NS


def test_working_orders_are_cancelled_at_the_flatten_before_any_package_is_flattened(day):
    """Seed 000 (force_cancel_all_before_eod_flatten): the cancel goes out at 15:45:00, before the flatten's
    first exit order is even built."""
    harvester = day.strategies[0]
    resting = day.cache.order(harvester.resting.client_order_id)
    assert resting.status_string() == "CANCELED"
    events = [(type(e).__name__, e.client_order_id) for e in day.order_events]
    stamps = {(type(e).__name__, e.client_order_id): e.ts_event for e in day.order_events}
    assert stamps[("OrderPendingCancel", resting.client_order_id)] == FLATTEN_NS  # not a stale-order cancel
    first_flatten = min(events.index(("OrderInitialized", o.client_order_id)) for o in _tagged(day, "eod_flatten"))
    assert events.index(("OrderPendingCancel", resting.client_order_id)) < first_flatten


def test_no_exit_is_offered_without_a_bid(day):
    """The strangle's premium stop fired in the no-bid minutes: nothing was offered then (no stop order)."""
    assert _tagged(day, "stop_premium") == []
    (flatten,) = [o for o in _tagged(day, "eod_flatten") if o.strategy_id.value == "GammaScalper-002"]
    assert flatten.ts_init >= at("15:45") + 30 * NS_PER_SECOND  # sent once the bids were back


def test_every_package_is_closed_by_the_flatten_and_nothing_is_left(day):
    records = {r.strategy_id: r for r in day.packages()}
    assert set(records) == {"ThetaHarvester-001", "GammaScalper-002"}
    assert {r.exit_kinds for r in records.values()} == {"eod_flatten"}
    # nothing was working: out on the fly's first quote of the flatten minute, 15:45:30
    assert records["ThetaHarvester-001"].closed_at == FLATTEN_QUOTE_ISO
    exit_legs = day.fills(role="exit")
    assert sorted((f.strategy_id, f.exit_kind) for f in exit_legs) == (
        [("GammaScalper-002", "eod_flatten")] * 2 + [("ThetaHarvester-001", "eod_flatten")] * 4
    )
    assert day.positions() == {}
    assert day.cache.orders_open() == []
    assert day.book.packages == {}
    assert all(s.packages == {} for s in day.strategies if hasattr(s, "packages"))


def test_the_flatten_locks_the_day(day):
    (lock,) = day.journal("lock")
    assert (lock["ts_ns"], lock["trading_date"], lock["reason"]) == (FLATTEN_NS, "2024-07-23", EOD_LOCK_REASON)
    assert day.book.state(at("15:46")).day_locked


def test_no_entry_is_attempted_or_let_through_after_the_flatten(day):
    late = day.strategies[-1]
    assert [e.reason.split(":")[0] for e in late.denied] in (
        [ReasonCode.EOD_FLATTEN_WINDOW.value],
        [ReasonCode.DAY_LOCKED.value],
    )
    after = [d for d in day.decisions() if d["ts_ns"] >= FLATTEN_NS and d["intent"]["kind"] == "entry"]
    assert [(d["source"], d["strategy"], d["decision"]["allowed"]) for d in after] == [
        ("gate", "ThetaHarvester-009", False)
    ]


def test_a_new_risk_book_on_the_same_state_file_keeps_the_day_locked(day, tmp_path):
    """A restart mid-afternoon (a new process, a new book on the same state file) cannot reopen the day:
    even an entry stamped 11:00, long before the flatten window, is refused as DAY_LOCKED."""
    reopened = RiskBook(load_policy("multi_strategy_paper"), day.folder / "state.sqlite", tmp_path / "j.jsonl", nav=1e5)
    try:
        fly = (leg(C(5550), -1), leg(P(5550), -1), leg(C(5575), 1), leg(P(5525), 1))
        intent = Intent(
            kind=IntentKind.ENTRY,
            strategy_id="ThetaHarvester-001",
            symbol="^SPX",
            package_id="after-restart",
            legs=fly,
            quantity=1,
            price=-9.6,
            ts_ns=at("11:00"),
        )
        decision = reopened.check(intent)
        assert reopened.state(at("11:00")).day_locked
        assert (decision.allowed, decision.code) == (False, ReasonCode.DAY_LOCKED)
    finally:
        reopened.close()


def test_an_exit_offered_at_one_tick_is_not_sold_for_a_tick_when_the_bids_come_back(day):
    (strangle,) = [r for r in day.packages() if r.strategy_id == "GammaScalper-002"]
    assert strangle.exit_price >= 9.8 - 0.1  # the 15:45:30 far touch, within a tick


def test_regression_spread_aggregators_stop_when_their_packages_close(day):
    """A plain unsubscribe leaves Nautilus's spread-quote aggregator running; each closed package's kept
    pricing every leg quote (found by the backtest benchmark: 20 live aggregators after 5 sessions)."""
    running = [a for a in day.engine.kernel.data_engine._spread_quote_aggregators.values() if a.is_running]
    assert running == [], f"{len(running)} spread-quote aggregators still running after every package closed"


# -- the flatten acts on the option quotes of its own minute ------------------------------------------------

# 15:45: the index jumps 12 points and the fly's legs reprice: buying it back costs 16.10 + 3.10 - 6.00 - 0.90
# = 12.30 at the 15:45:30 quotes (at 15:44 it cost 8.10 + 8.10 - 2.90 - 2.90 = 10.40).
REPRICED_FLY = {C(5550): (15.9, 16.1), P(5550): (2.9, 3.1), C(5575): (6.0, 6.2), P(5525): (0.9, 1.0)}


class QuietFrom(Market):
    """The scripted market with no option quote at all from ``first`` to ``last`` (New York minutes)."""

    def __init__(self, first: str, last: str) -> None:
        super().__init__()
        self.silent = (quoted_at(first), quoted_at(last))

    def option_quotes(self, options):
        first, last = self.silent
        return [q for q in super().option_quotes(options) if not first <= q.ts_event <= last]


@pytest.fixture
def days(tmp_path):
    with Days(tmp_path) as opened:
        yield opened


def _ns(iso: str) -> int:
    return pd.Timestamp(iso).value


def test_regression_the_eod_flatten_fills_at_the_flatten_minutes_option_quotes(days):
    """The EOD flatten is a time alert at 15:45:00; the option quotes of 15:45 arrive after it. Its exits used
    to go at once and fill against the 15:44 quotes, before they repriced for what happened at 15:45 (the
    bar-triggered decisions had been fixed, decision 0006; the flatten had not). The flatten's first exit must
    fill at the quotes of its own minute."""
    market = Market().index("15:45", 5562.0).quote("15:45", REPRICED_FLY)
    day = days(market, [theta_harvester(max_entries_per_day=1, take_profit_partial_pct=None)]).run()
    (record,) = day.packages()
    assert record.exit_kinds == "eod_flatten"
    assert _ns(record.closed_at) == quoted_at("15:45")
    assert abs(record.exit_price) == pytest.approx(12.3)
    assert day.book.state(at("15:45")).day_locked  # the lock did not wait for the quote


def test_without_a_quote_in_the_flatten_minute_the_flatten_goes_at_its_end_on_the_quotes_held(days):
    """Safety first: when no quote of the flatten minute comes (15:45 and 15:46 silent), the flatten does not
    wait for one. It goes at 15:46:00, the end of the flatten minute, at the far touch of the 15:44 quotes the
    cache holds: 8.10 + 8.10 - 2.90 - 2.90 = 10.40."""
    market = QuietFrom("15:45", "15:46")
    day = days(market, [theta_harvester(max_entries_per_day=1, take_profit_partial_pct=None)]).run()
    (record,) = day.packages()
    assert record.exit_kinds == "eod_flatten"
    assert _ns(record.closed_at) == at("15:46")
    assert abs(record.exit_price) == pytest.approx(10.4)
    assert day.positions() == {}


def test_the_node_flatten_closes_another_strategys_position_at_the_flatten_minutes_quote(days):
    """The node guard closes a plain strategy's long call at market. At 15:45:00 the cache holds the call's
    15:44 quote (4.90/5.10 since the open); the call reprices to 0.90/1.10 at 15:45:30. The close waits for
    that quote and sells at its 0.90 bid, not at the stale 4.90, within the flatten minute."""
    market = Market().quote("15:45", {C(5565): (0.9, 1.1)})
    holder = SendsAt("10:01", buy_call(5565, 5.1))
    day = days(market, [holder]).run()
    sells = [e for e in day.order_events if type(e).__name__ == "OrderFilled" and e.order_side == OrderSide.SELL]
    assert [e.last_px.as_double() for e in sells] == [0.9]
    assert quoted_at("15:45") <= sells[0].ts_event < at("15:46")
    assert day.positions() == {}
