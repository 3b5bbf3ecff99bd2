"""Theta Harvester and Gamma Scalper in a real BacktestEngine: entries into leg positions, refusals, expiry.

Each test scripts one trading day (``tests.strategy_kit``) and reads what a trader would: the engine's
positions, the run recorder's leg fills and packages, the risk book and its decisions journal.
"""

from __future__ import annotations

from typing import cast

import pytest

from odte_nautilus.packages import AGGREGATED_SPREAD_QUOTES
from odte_nautilus.risk.book import RiskBook
from odte_nautilus.risk.decision import Decision, ReasonCode
from odte_nautilus.risk.journal import iso_utc
from odte_nautilus.risk.policy import RISK_PROFILE_DIR
from odte_nautilus.strategies.gamma_scalper import GammaScalper
from odte_nautilus.strategies.theta_harvester import ThetaHarvester
from tests.kit import fly_entry
from tests.strategy_kit import FEE, C, Days, Market, P, at, gamma_scalper, option_id, quoted_at, theta_harvester

FLY = {option_id(C(5550)): -1.0, option_id(P(5550)): -1.0, option_id(C(5575)): 1.0, option_id(P(5525)): 1.0}
STRANGLE = {option_id(C(5565)): 1.0, option_id(P(5535)): 1.0}


@pytest.fixture
def days(tmp_path):
    with Days(tmp_path) as opened:
        yield opened


# -- a package fills into leg positions -------------------------------------------------------------


@pytest.mark.parametrize(
    ("make", "legs", "quantity", "structure"),
    [
        # the 10:00 spot 5550 -> short the 5550 straddle, long the wings 25 points out; no IV history: base size 1
        (lambda: theta_harvester(max_entries_per_day=1), FLY, 1, "IRON_BUTTERFLY"),
        # dealers short gamma -> long the 5565 call and 5535 put (spot +/- 15); the strength ladder says 2
        (lambda: gamma_scalper(max_entries_per_day=1, strength_sizes=(1, 2)), STRANGLE, 2, "STRANGLE"),
    ],
    ids=["theta_harvester_iron_butterfly", "gamma_scalper_strangle"],
)
def test_an_entry_fills_as_one_package_into_signed_leg_positions(days, make, legs, quantity, structure):
    strategy = make()
    day = days(Market(), [strategy]).run("10:01")

    assert day.positions() == {iid: ratio * quantity for iid, ratio in legs.items()}
    (package_id,) = strategy.packages
    entries = day.fills(role="entry")
    assert sorted(f.instrument_id for f in entries) == sorted(legs)
    assert {f.package_id for f in entries} == {package_id}
    assert {f.quantity for f in entries} == {quantity}
    assert all((f.side == "BUY") == (legs[f.instrument_id] > 0) for f in entries)
    assert {f.ts_event for f in entries} == {"2024-07-23T14:00:30.000000000Z"}
    assert all(f.fee == pytest.approx(FEE * quantity) for f in entries)
    # The legs' prices add up to the package's fill.
    ledger = strategy.packages[package_id].ledger
    assert sum(legs[f.instrument_id] * f.price for f in entries) == pytest.approx(ledger.avg_entry_price)
    assert ledger.quantity == quantity
    assert day.book.packages[strategy.id.value, package_id].quantity == quantity  # the risk book tracks it too
    assert day.cache.instrument(strategy.packages[package_id].spread_id).strategy_type == structure
    assert [p for p in day.cache.positions_open() if "___" in p.instrument_id.value] == []  # none on the spread


def test_the_entry_is_priced_at_the_far_touch_and_asked_twice(days):
    """Strategy and engine gate each ask the kernel: two ALLOWED journal lines for the one entry, at the
    far touch of the 10:00:30 quotes (wings bought at the ask 3.10, body sold at the bid 7.90: a 9.60 credit)."""
    day = days(Market(), [theta_harvester(max_entries_per_day=1)]).run("10:01")

    entries = [d for d in day.decisions() if d["intent"]["kind"] == "entry"]
    assert [(d["source"], d["decision"]["code"]) for d in entries] == [("strategy", "ALLOWED"), ("gate", "ALLOWED")]
    assert {d["intent"]["price"] for d in entries} == {-9.6}
    assert {d["ts_ns"] for d in entries} == {quoted_at("10:00")}


# -- a refused entry leaves the strategy FLAT with the reason logged ----------------------------------


@pytest.mark.parametrize(
    ("profile", "kill", "code"),
    [
        ("multi_strategy_paper", True, ReasonCode.KILL_SWITCH),
        # seed 000's live profile lists only the Gamma Scalper: the harvester has no limits there
        ("single_position_0dte", False, ReasonCode.UNKNOWN_STRATEGY),
    ],
    ids=["kill_switch", "profile_without_the_strategy"],
)
def test_a_refused_entry_sends_nothing_and_journals_the_reason_code(days, profile, kill, code):
    strategy = theta_harvester()
    day = days(Market(), [strategy], profile=profile)
    if kill:
        day.book.kill(by="desk", reason="emergency stop before the open", now_ns=at("09:00"))
    day.run()

    assert day.cache.orders() == []
    assert day.positions() == {}
    assert strategy.packages == {} and day.book.packages == {}
    assert day.fills() == [] and day.packages() == []
    decisions = day.decisions()
    assert decisions, "the strategy never asked the kernel: nothing was refused"
    # a standing rule (no price, no size read): refused as planned, before any pricing
    assert {(d["source"], d["decision"]["allowed"], d["decision"]["code"]) for d in decisions} == {
        ("plan", False, code.value)
    }
    assert all(d["decision"]["reason"] for d in decisions)  # a reason a trader can read, not only a code


class CountsPackageQuotes(ThetaHarvester):
    """A Theta Harvester that keeps the ids of the package quotes (aggregated spreads) it subscribes to."""

    def __init__(self, config) -> None:
        super().__init__(config)
        self.package_subscriptions: list[str] = []
        self.package_unsubscriptions: list[str] = []

    def subscribe_quote_ticks(self, instrument_id, *args, **kwargs) -> None:
        if kwargs.get("params") is AGGREGATED_SPREAD_QUOTES:
            self.package_subscriptions.append(instrument_id.value)
        super().subscribe_quote_ticks(instrument_id, *args, **kwargs)

    def unsubscribe_quote_ticks(self, instrument_id, *args, **kwargs) -> None:
        if kwargs.get("aggregate_spread_quotes"):
            self.package_unsubscriptions.append(instrument_id.value)
        super().unsubscribe_quote_ticks(instrument_id, *args, **kwargs)


def test_a_fly_held_to_the_flatten_lets_its_package_quote_go_until_the_flatten(days):
    """Held to the flatten with no order working, nothing acts on the fly's aggregated quote (a backtest's
    cache holds its legs' quotes): it is let go at the entry fill and subscribed again at the flatten, whose
    exit fills on the flatten minute's package quote."""
    strategy = theta_harvester(CountsPackageQuotes, max_entries_per_day=1)
    day = days(Market(), [strategy], cache_holds_every_quote=True)  # as odte backtest runs it
    day.run("12:00")
    (package,) = strategy.packages.values()
    spread = package.spread_id.value
    assert (strategy.package_subscriptions, strategy.package_unsubscriptions) == ([spread], [spread])
    day.run()

    assert strategy.package_subscriptions == [spread, spread]  # the entry's, the flatten's
    exits = day.fills(role="exit")
    assert len(exits) == 4 and {f.exit_kind for f in exits} == {"eod_flatten"}
    assert {f.ts_event for f in exits} == {iso_utc(quoted_at("15:45"))}


def test_an_entry_a_standing_rule_refuses_is_never_priced_or_subscribed(days):
    """After a kill switch (as after RISK-OFF, a strategy breaker or the day's lock) every plan is refused by a
    rule that reads neither price nor size: the harvester asks at each plan, every 5-minute cooldown, and
    never subscribes a package quote (an aggregator fed all day on the legs of a package it cannot enter)."""
    strategy = theta_harvester(CountsPackageQuotes)
    day = days(Market(), [strategy])
    day.book.kill(by="desk", reason="emergency stop before the open", now_ns=at("09:00"))
    day.run()

    refusals = day.decisions()
    assert [d["ts_ns"] for d in refusals] == [at(f"{10 + m // 60}:{m % 60:02}") for m in range(0, 211, 5)]
    assert {(d["source"], d["decision"]["code"]) for d in refusals} == {("plan", ReasonCode.KILL_SWITCH.value)}
    assert strategy.package_subscriptions == []


def test_refused_entries_of_one_package_ask_the_kernel_each_time_on_one_quote_subscription(days, tmp_path):
    """Refused once priced (its open risk is over the profile's), the harvester plans the same fly after each
    cooldown (spot stays at its strike). Each plan is priced on its own quote and asked of the kernel; the
    fly's quote stays subscribed between them (each subscription costs Nautilus's message bus a pass over
    every topic it has seen) and is let go at the EOD flatten."""
    profile = tmp_path / "tight.yaml"
    shipped = (RISK_PROFILE_DIR / "multi_strategy_paper.yaml").read_text()
    profile.write_text(shipped.replace("max_open_risk_per_symbol: 10000", "max_open_risk_per_symbol: 100"))
    strategy = theta_harvester(CountsPackageQuotes)
    day = days(Market(), [strategy], profile=str(profile))
    day.run()

    refusals = day.decisions()
    # a plan at the first bar after each 5-minute cooldown (from the plan), each asked at its own quote
    assert [d["ts_ns"] for d in refusals] == [quoted_at(f"{10 + m // 60}:{m % 60:02}") for m in range(0, 211, 5)]
    assert {(d["source"], d["decision"]["code"]) for d in refusals} == {
        ("strategy", ReasonCode.MAX_OPEN_RISK_PER_SYMBOL.value)
    }
    assert len(strategy.package_subscriptions) == 1  # 43 plans of the one fly
    # the fly's aggregator fed on its legs' quotes; the wings (the body is also the at-the-money watch) are let go
    subscribed = {i.value for i in day.engine.kernel.data_engine.subscribed_quote_ticks()}
    assert subscribed.isdisjoint({option_id(C(5575)), option_id(P(5525))})


# -- expiry settles at the index level -----------------------------------------------------------------


class HoldsToExpiry(GammaScalper):
    """A Gamma Scalper that never sends an exit, so whatever it holds at 16:00 is settled by the engine."""

    def exit_package(self, package_id, kind, quantity=None) -> None:
        return None


def _settlement_market() -> Market:
    """The strangle is bought at 15:38 (5.10 + 5.10 at the asks); the index closes the day at 5580."""
    return Market().index("15:50", 5580.0)


def test_a_package_held_through_the_close_is_cash_settled_at_the_16_00_index_level(days):
    strategy = gamma_scalper(
        HoldsToExpiry, max_entries_per_day=1, entry_start="15:38", entry_end="15:40", strength_sizes=(1, 1)
    )
    day = days(_settlement_market(), [strategy]).run()

    settlements = {f.instrument_id: f for f in day.fills(role="exit")}
    call, put = settlements[option_id(C(5565))], settlements[option_id(P(5535))]
    assert (call.price, put.price) == (15.0, 0.0)  # intrinsic at 5580: max(5580 - 5565, 0), max(5535 - 5580, 0)
    assert {f.exit_kind for f in settlements.values()} == {"settlement"}
    assert {f.side for f in settlements.values()} == {"SELL"}
    assert {f.ts_event for f in settlements.values()} == {"2024-07-23T20:00:00.000000000Z"}
    (record,) = day.packages()
    assert record.exit_kinds == "settlement"
    assert record.entry_price == pytest.approx(10.2)
    assert record.fees == pytest.approx(2 * FEE)  # the two entry legs; the exchange settles for free
    assert record.realized_pnl == pytest.approx((15.0 + 0.0 - 10.2) * 100 - 2 * FEE)
    assert day.positions() == {} and strategy.packages == {} and day.book.packages == {}


def test_a_package_whose_exit_cannot_fill_is_settled_at_the_close(days):
    """The legs go no-bid at 15:39: every exit (stop, then EOD flatten) is a one-tick offer nobody takes, so
    the package is still held at 16:00 and the engine settles it - the strategy must book that settlement."""
    no_bid = {C(5565): (0.0, 5.1), P(5535): (0.0, 5.1)}
    strategy = gamma_scalper(max_entries_per_day=1, entry_start="15:38", entry_end="15:40", strength_sizes=(1, 1))
    day = days(_settlement_market().quote("15:39", no_bid), [strategy]).run()

    assert day.positions() == {}  # the engine settled the legs ...
    assert {f.exit_kind for f in day.fills(role="exit")} == {"settlement"}
    assert strategy.packages == {}, "... but the strategy still holds the package"
    assert day.book.packages == {}
    (record,) = day.packages()
    assert "settlement" in record.exit_kinds.split(";")
    assert record.realized_pnl == pytest.approx((15.0 - 10.2) * 100 - 2 * FEE)
    after_expiry = [d for d in day.decisions() if d["ts_ns"] >= at("16:00")]
    assert after_expiry == []  # no exit orders for contracts that no longer exist


class _AllowsEverything:
    """A risk book whose strategy-side check always allows: the strategy's own ask is gone or wrong."""

    def __init__(self, book) -> None:
        self._book = book

    def check(self, intent, holdings=None, source="strategy"):
        return Decision.allow(intent.quantity)

    def check_standing(self, intent, state):
        return None

    def __getattr__(self, name):
        return getattr(self._book, name)


class SkipsItsOwnCheck(ThetaHarvester):
    def on_start(self) -> None:
        super().on_start()
        self.book = cast(RiskBook, _AllowsEverything(self.book))  # a stand-in: every other call is forwarded


def test_an_entry_the_gate_denies_on_the_spot_leaves_the_strategy_flat_and_counts_no_trade(days):
    """The strategy's own check passed but the engine gate refused (here: the kill switch): the denial comes
    back inside submit_order; the strategy must not book a trade or touch the package it just dropped."""
    strategy = theta_harvester(SkipsItsOwnCheck, max_entries_per_day=1)
    day = days(Market(), [strategy])
    day.book.kill(by="desk", reason="emergency stop", now_ns=at("09:00"))
    day.run("10:05")

    assert [o.status_string() for o in day.cache.orders()] == ["DENIED"]
    assert day.positions() == {} and strategy.packages == {} and day.book.packages == {}
    assert day.book.state(at("10:05")).trades_today == 0
    gate = [d for d in day.decisions() if d["source"] == "gate"]
    assert [d["decision"]["code"] for d in gate] == [ReasonCode.KILL_SWITCH.value]


def test_a_node_started_again_mid_day_never_reuses_a_package_id_of_the_day(days):
    """A restarted node's durable state already holds this strategy's entries of the day: its packages get
    ids of their own (``-r<HHMMSS>``), as fills.csv, positions.csv and the audit key packages by id."""
    day = days(Market(), [theta_harvester(max_entries_per_day=1)])
    earlier = fly_entry(package="ThetaHarvester-001-20240723-1", ts_ns=at("09:45"))
    day.book.record_entry(earlier)  # what the node that died recorded before the restart
    day.run("10:01")
    entries = {d["intent"]["package"] for d in day.decisions() if d["intent"]["kind"] == "entry"}
    assert entries and all(p.startswith("ThetaHarvester-001-20240723-r") for p in entries)


def test_both_strategies_trade_from_one_chain_built_once_a_day(days):
    """Building today's chain scans every option in the cache: the first strategy builds it, the other reads it."""
    th, gs = theta_harvester(max_entries_per_day=1), gamma_scalper(max_entries_per_day=1)
    day = days(Market(), [th, gs]).run("10:01")
    assert th.chain is not None and th.chain is gs.chain
    traded = {d["strategy"] for d in day.decisions() if d["intent"]["kind"] == "entry" and d["decision"]["allowed"]}
    assert len(th.chain.strikes) > 1 and th.id.value in traded
