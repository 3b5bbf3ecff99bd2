"""OdteStrategy: the plumbing both strategies share, so that a strategy file reads as its thesis.

A subclass says *what* it wants (``entry_plan``: a package and a size from its signal); this base decides
*whether and how*: the kernel asks first (design §3; the engine gate asks again for every order),
each package is one ``OptionSpread`` with its legs' quotes aggregated, its orders are limits at the far
touch rounded to the tick, its fills are routed by a ``PackageLedger`` (the three incidents of seed 000
cannot repeat), each package's exit rule (its strategy's exit policy: one that fits its structure, the seed's
four-dimensional stop, or none) runs on every package quote and on a 100 ms and a 5 s timer while a package
is open, partial and full take-profits carry explicit exit kinds, and the EOD flatten at close - 15 min cancels working
orders first and locks the day. Nothing here knows whether it runs in a backtest or a live node: what it
shares with the rest of the node comes from ``odte_nautilus.runtime``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any

from nautilus_trader.config import StrategyConfig
from nautilus_trader.model.data import BarType, QuoteTick
from nautilus_trader.model.enums import OrderSide, TimeInForce
from nautilus_trader.model.identifiers import InstrumentId
from nautilus_trader.model.instruments import OptionContract
from nautilus_trader.model.objects import Price, Quantity
from nautilus_trader.trading.strategy import Strategy

from odte_nautilus.data.symbology import underlying_bar_type
from odte_nautilus.data.underlyings import underlying_spec
from odte_nautilus.execution.events import BrokerEvent, Cancelled, Fill, Rejected
from odte_nautilus.execution.fills import LedgerError, PackageLedger
from odte_nautilus.nautilus_internals import is_leg_fill, leg_parent
from odte_nautilus.node_guard import sent_by_node_guard
from odte_nautilus.orders import option_right, package_tags, to_contract
from odte_nautilus.packages import (
    AGGREGATED_SPREAD_QUOTES,
    CacheMids,
    ensure_spread,
    far_touch,
    legs_quoted_since,
    marketable_limit,
    package_mid,
)
from odte_nautilus.recorder import LegFill, PackageRecord
from odte_nautilus.risk.decision import Decision
from odte_nautilus.risk.exits import ExitRule, HoldToFlatten, IronFlyLevels, IronFlyRule, StrangleRule
from odte_nautilus.risk.journal import iso_utc
from odte_nautilus.risk.model import ExitKind, Intent, IntentKind, Leg, PackageState
from odte_nautilus.risk.policy import (
    FourDimensionalExit,
    HoldExit,
    IronFlyExit,
    PolicyError,
    StrangleExit,
    parse_exit_policy,
)
from odte_nautilus.risk.session import NEW_YORK, SessionWindow, trading_date
from odte_nautilus.risk.stops import PackageStop
from odte_nautilus.risk.time_units import MINUTE_NS, NS_PER_MILLISECOND, NS_PER_SECOND
from odte_nautilus.runtime import runtime_for
from odte_nautilus.strategies.chain import ChainLink, OptionChain

if TYPE_CHECKING:
    from nautilus_trader.common.component import TimeEvent
    from nautilus_trader.model.data import Bar
    from nautilus_trader.model.events import (
        OrderCanceled,
        OrderDenied,
        OrderEvent,
        OrderExpired,
        OrderFilled,
        OrderRejected,
    )
    from nautilus_trader.model.orders import Order

HARD_TIMER = "odte-stop-hard"
SLOW_TIMER = "odte-stop-slow"
# The EOD flatten's exits wait for each package's quote of the flatten minute (as a bar's decisions wait for
# the quote of the bar's minute); a package whose quote has not come by the end of that minute is flattened
# then on the quotes the cache holds: the wait never outlasts the minute, and never holds a flatten back.
EOD_QUOTE_WAIT_NS = MINUTE_NS


class OdteStrategyConfig(StrategyConfig, frozen=True):
    """What both strategies share. Times are New York wall clock; percentages are of the entry premium."""

    underlying_id: str = "^SPX.CBOE"
    entry_start: str = "10:00"
    entry_end: str = "14:30"
    max_entries_per_day: int = 2
    max_open_packages: int = 1
    take_profit_partial_pct: float | None = None
    take_profit_partial_share: float = 0.5
    take_profit_full_pct: float | None = None
    order_timeout_s: int = 90
    refusal_cooldown_s: int = 300  # after the kernel refuses an entry, wait before planning another
    quote_snapshot_ms: int = 1_000  # a package quote acts once every leg was quoted within this window
    # The hard stop dimensions are evaluated on every package quote, the slow ones (and the take-profits) on
    # the first complete package quote after each index bar; these timers add the seed's cadence (100 ms
    # hard, 5 s slow, from the risk policy) for marks that move between quotes (live). Over minute data
    # they re-read the minute's unchanged marks 600 and 12 times a minute: a backtest config may switch
    # them off without changing any decision the data can drive (configs/backtest.yaml does).
    hard_stop_timer: bool = True
    slow_stop_timer: bool = True
    # The exit policy (risk/policy.py, risk/exits.py): {"kind": "four_dimensional"} (the seed's stop, with the
    # risk profile's numbers; also what None means), "hold", "iron_fly" or "strangle" with their parameters.
    # A risk profile that names an exit policy for the strategy wins over this one.
    exit: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class EntryPlan:
    """What a strategy wants: a package (legs as held), a proposed size and its directional bias."""

    legs: tuple[Leg, ...]
    quantity: int
    bias: int = 0


@dataclass(slots=True)
class _Package:
    """Bookkeeping next to the ledger that the run folder and the stops need."""

    ledger: PackageLedger
    spread_id: InstrumentId
    bias: int
    opened_ns: int = 0
    fees: float = 0.0
    exit_rule: ExitRule | None = None  # armed at the first entry fill
    partial_taken: bool = False
    entry_premium: float = 0.0
    exit_kind: ExitKind | None = None  # a full exit decided once keeps its kind when it is re-sent
    bar_done_ns: int = 0  # the last index bar whose decisions this package has taken (on its own quotes)
    quoted_ns: int = 0  # the event time of the package's last complete quote (every leg quoted)
    quiet_at: tuple[int, bool, bool] | None = None  # (events seen, hard, slow) of a timer check that decided nothing
    quote_released: bool = False  # its package quote let go until the flatten (``_release_quote_if_idle``)


class OdteStrategy(Strategy):
    structure: str = "PACKAGE"

    def __init__(self, config: OdteStrategyConfig) -> None:
        super().__init__(config)
        self.spot: float | None = None
        self.day: date | None = None
        self.session: SessionWindow | None = None
        self.chain: OptionChain | None = None
        self.packages: dict[str, _Package] = {}  # live packages by package id
        self._order_package: dict[str, str] = {}  # client order id -> package id
        self._awaiting: dict[InstrumentId, tuple[str, EntryPlan]] = {}  # spread id -> plan waiting for a quote
        self._idle_spread: InstrumentId | None = None  # a refused entry's package quote, kept for the next plan
        self._settlement: dict[str, float] = {}  # leg instrument id -> settlement price
        self._submitted_ns: dict[str, int] = {}  # client order id -> submit time (stale-order cancels)
        self._exit_kinds: dict[str, ExitKind | None] = {}  # client order id -> its exit kind (None: an entry)
        self._entries_today = 0
        self._sequence = 0
        self._package_prefix = ""
        self._flattening = False
        self._flatten_ns = 0  # the EOD flatten instant of the session being flattened
        self._cooldown_until = 0
        self._awaiting_since = 0
        self._day_ends_ns = 0  # the next New York midnight: a bar at or after it starts a new session
        self._bar_ns = 0  # the last index bar: its decisions are taken on the package quotes that follow it
        self._entry_window = (0, 0)
        self._watched: set[str] = set()  # option ids whose quotes the at-the-money IV reads (live needs them)
        # Counts the quotes, bars and order events this strategy has seen: what a package's exit checks read (its
        # legs' marks, spot, its orders) can change only when this does (``_manage_package``).
        self._events_seen = 0
        # Limits go on the traded product's own grid: SPXW's 0.05/0.10, or a penny for SPY and QQQ.
        self._ticks = underlying_spec(InstrumentId.from_str(config.underlying_id).symbol.value).ticks

    # -- the thesis: subclasses ----------------------------------------------------------------------

    def entry_plan(self, now_ns: int) -> EntryPlan | None:
        """The package this strategy wants now, or None."""
        raise NotImplementedError

    def carry_over(self, earlier: OdteStrategy) -> None:
        """Take over what ``earlier``, this strategy on the run's previous engine, knew beyond its last day.

        A backtest replays a long run on a fresh engine every ``backtest.DAYS_PER_ENGINE`` days; the risk book
        carries the run's risk state. Every session resets what the base keeps, so it carries nothing; a
        strategy that remembers days (the Theta Harvester's IV history) carries that here, or a long run would
        forget it at each new engine (``tests/integration/test_backtest_run.py`` compares the two).
        """

    def on_session_start(self, day: date) -> None:
        """A new trading day began (its chain and session are set)."""

    def strike_reach_points(self) -> float | None:
        """How far from spot, in index points, a package of this strategy can reach (``None``: anywhere).

        Every leg is snapped to the listed strike nearest to spot +/- at most this; the at-the-money IV reads
        the nearest strikes either side of spot. A backtest replays the quotes of the strikes within reach of
        the day's index range only (``data/feed.py``, docs/decisions/0010): a strategy that leaves this
        ``None`` gets every strike.
        """
        return None

    # -- lifecycle -----------------------------------------------------------------------------------

    def on_start(self) -> None:
        self.runtime = runtime_for(self.trader_id.value)
        self.book = self.runtime.book
        self.runtime.gate.self_reporting.add(self.id.value)  # this strategy's ledger reports its packages
        self.stop_config = self.book.policy.stop_for(self.id.value)
        policy = self.book.policy.exit_for(self.id.value) or parse_exit_policy(self.config.exit, self.id.value)
        fits = {"iron_fly": ("IRON_BUTTERFLY",), "strangle": ("STRANGLE",)}.get(policy.kind)
        if fits is not None and self.structure not in fits:
            raise PolicyError(f"{self.id.value}: exit.kind: {policy.kind} does not fit a {self.structure}")
        self.exit_policy = policy
        self.mids = CacheMids(self.cache)
        self.subscribe_bars(BarType.from_str(underlying_bar_type(self.config.underlying_id)))

    def on_bar(self, bar: Bar) -> None:
        self._events_seen += 1
        now = self.clock.timestamp_ns()
        self.spot = bar.close.as_double()
        if now >= self._day_ends_ns:
            self._start_session(self.book.calendar.trading_date(now), now)
        if self.session is None:
            return
        self._watch_at_the_money(self.spot)
        if self.packages:
            self._cancel_stale_orders(now)
        if self._awaiting and now - self._awaiting_since >= self.config.order_timeout_s * NS_PER_SECOND:
            self._drop_awaiting()  # the package's legs never completed a snapshot: plan afresh
        # What the bar decides for a package (a stop on the index move, a take-profit, the flatten's re-send)
        # waits for the package's quote of the same minute: the bar comes first (so the 16:00 level settles
        # first), and acting on it now would fill at the previous minute's option quotes (on_quote_tick).
        self._bar_ns = bar.ts_event
        if self.book.packages:  # flat, the day's P&L moves only at a close, and record_close enforces
            self._mark_packages()
            self.book.enforce(now)
        if self._may_plan(now):
            plan = self.entry_plan(now)
            if plan is not None:
                self._prepare(plan, now)

    def on_quote_tick(self, tick: QuoteTick) -> None:
        """A package's aggregated quote: price a waiting entry, or run the hard stop dimensions on fresh marks.

        The aggregator sends a package quote after each leg's quote; acting on one whose other legs have not
        updated yet would price against a half-stale package, so only a quote completing the snapshot (every
        leg quoted within ``quote_snapshot_ms`` of it) acts. Over minute data that is the minute's last leg.
        """
        self._events_seen += 1
        spread_id = tick.instrument_id
        awaiting = self._awaiting.get(spread_id)
        legs = awaiting[1].legs if awaiting is not None else self._legs_of_spread(spread_id)
        since = tick.ts_event - self.config.quote_snapshot_ms * NS_PER_MILLISECOND
        if legs is None or self.spot is None or not legs_quoted_since(legs, self.cache, since):
            return
        now = self.clock.timestamp_ns()
        if awaiting is not None:
            del self._awaiting[spread_id]
            self._submit_entry(spread_id, *awaiting, now, tick.ts_event)
            return
        for package_id, package in list(self.packages.items()):
            if package.spread_id == spread_id:
                package.quoted_ns = max(package.quoted_ns, tick.ts_event)
                after_bar = package.bar_done_ns < self._bar_ns <= tick.ts_event
                if after_bar:
                    package.bar_done_ns = self._bar_ns
                self._manage_package(package_id, package, now, hard=True, slow=after_bar)

    def _legs_of_spread(self, spread_id: InstrumentId) -> tuple[Leg, ...] | None:
        for package in self.packages.values():
            if package.spread_id == spread_id:
                return package.ledger.legs
        return None

    # -- the session ---------------------------------------------------------------------------------

    def _start_session(self, day: date, now: int) -> None:
        """The per-day reset: the chain of today's expiry, the session window, the EOD alert."""
        self.day = day
        self._day_ends_ns = self._ny_ns(day + timedelta(days=1), "00:00")
        session = self.book.calendar.session_window(day, self.book.policy.eod.flatten_minutes_before_close)
        self.session = session
        self._entries_today = 0
        self._sequence = 0
        self._package_prefix = self._package_prefix_for(day, now)
        self._flattening = False
        self._watched.clear()  # yesterday's contracts have expired
        if session is None:
            return
        self._entry_window = (self._ny_ns(day, self.config.entry_start), self._ny_ns(day, self.config.entry_end))
        self.chain = self.runtime.chain_of(self.config.underlying_id, day, lambda: self._todays_chain(day, session))
        self.clock.set_time_alert_ns(f"odte-eod-{day}", session.flatten_ns, self._on_eod, allow_past=True)
        self.on_session_start(day)

    def _watch_at_the_money(self, spot: float) -> None:
        """Subscribe to the quotes of the nearest OTM call and put, which the at-the-money IV reads.

        A backtest's cache holds every option's last quote, a live node's only those it subscribed to: without
        this the live signals (IV percentile, GEX) would read no ATM quote and fall back where the backtest
        does not. Subscriptions are kept for the day (a subscription already made is not made again). A node
        whose cache holds every quote anyway (a backtest) needs none (``Runtime.cache_holds_every_quote``).
        """
        if self.chain is None or self.runtime.cache_holds_every_quote:
            return
        for link in self.chain.nearest_otm(spot):
            if link is not None and link.instrument_id not in self._watched:
                self._watched.add(link.instrument_id)
                self.subscribe_quote_ticks(InstrumentId.from_str(link.instrument_id))

    def _package_prefix_for(self, day: date, now: int) -> str:
        """``<strategy>-<day>``; a node started again mid-day (its durable state already holds entries of this
        strategy today) adds ``-r<HHMMSS>`` of its start, so no package id of the day is ever used twice (the
        run's files and the audit key packages by id)."""
        prefix = f"{self.id.value}-{day:%Y%m%d}"
        if not self.book.state(now).entry_times_ns.get(self.id.value):
            return prefix
        return f"{prefix}-r{datetime.fromtimestamp(now / 1e9, NEW_YORK):%H%M%S}"

    def _todays_chain(self, day: date, session: SessionWindow) -> OptionChain:
        symbol = InstrumentId.from_str(self.config.underlying_id).symbol.value
        links, expiry_ns = [], session.close_ns
        # The cache keeps every option of every day run so far: its expiry is compared with the day's New York
        # midnights, not turned into a date (``trading_date``) for each, which cost a year's run seconds.
        day_starts_ns = self._ny_ns(day, "00:00")
        for instrument in self.cache.instruments(underlying=symbol):
            if not isinstance(instrument, OptionContract):
                continue
            if not day_starts_ns <= instrument.expiration_ns < self._day_ends_ns:
                continue
            expiry_ns = instrument.expiration_ns
            links.append(ChainLink(instrument.id.value, option_right(instrument), instrument.strike_price.as_double()))
        return OptionChain(symbol, expiry_ns, links)

    @staticmethod
    def _ny_ns(day: date, hhmm: str) -> int:
        return int(datetime.combine(day, time.fromisoformat(hhmm), NEW_YORK).timestamp() * NS_PER_SECOND)

    def _may_plan(self, now: int) -> bool:
        cfg = self.config
        return (
            not self._flattening
            and self.spot is not None
            and self.chain is not None
            and not self._awaiting
            and now >= self._cooldown_until
            and self._entries_today < cfg.max_entries_per_day
            and len(self.packages) < cfg.max_open_packages
            and self._entry_window[0] <= now <= self._entry_window[1]
        )

    def _on_eod(self, event: TimeEvent) -> None:
        """Seed 000: force_cancel_all_before_eod_flatten, then flatten; then the day is locked for good.

        The flatten is a time alert: at its instant the cache still holds the previous minute's option quotes
        (the flatten minute's come after its index bar). Each package's flatten exit therefore goes on its
        first complete quote of the flatten minute (``on_quote_tick``), or, if none comes, at the end of that
        minute on what the cache holds (``_on_eod_deadline``). The cancels and the lock do not wait.
        """
        now = self.clock.timestamp_ns()
        self._flattening = True
        self._flatten_ns = now
        self._drop_awaiting()
        for order in self.cache.orders_open(strategy_id=self.id):
            self.cancel_order(order)
        for package in self.packages.values():
            if package.quote_released:  # the flatten minute's quotes come after this alert
                package.quote_released = False
                self.subscribe_quote_ticks(package.spread_id, params=AGGREGATED_SPREAD_QUOTES)
        self._manage(now, hard=False, slow=False)  # a package already quoted in the flatten minute goes now
        self.book.lock_for_eod(now)
        self.clock.set_time_alert_ns(
            f"odte-eod-deadline-{self.day}", now + EOD_QUOTE_WAIT_NS, self._on_eod_deadline, allow_past=True
        )

    def _on_eod_deadline(self, event: TimeEvent) -> None:
        """The flatten minute is over: every package not yet flattened goes now, whatever its quotes."""
        self._manage(self.clock.timestamp_ns(), hard=False, slow=False)

    def _flatten_due(self, package: _Package, now: int) -> bool:
        """May the flatten's exit of ``package`` go now: quoted in the flatten minute, or the minute is over."""
        return package.quoted_ns >= self._flatten_ns or now >= self._flatten_ns + EOD_QUOTE_WAIT_NS

    # -- entries -------------------------------------------------------------------------------------

    def _prepare(self, plan: EntryPlan, now: int) -> None:
        """Subscribe the package's aggregated quote; the entry is priced and checked on its first complete quote.

        The kernel's standing rules are asked first (the session, the switches, the breakers, the loss stops,
        the day's trade count, the package's shape: ``rules.STANDING_RULES``, none of which reads a price or a
        size): a plan they refuse is never priced or subscribed, so a day after RISK-OFF or a kill switch costs
        one check per cooldown, not a package quote aggregated all day. The package of the last entry refused
        once priced is still subscribed (``_park``) until a standing rule refuses: planned again, it waits on
        that subscription.
        """
        self._sequence += 1
        package_id = f"{self._package_prefix}-{self._sequence}"
        unpriced = self._entry_intent(package_id, plan, 0.0, now)
        refusal = self.book.check_standing(unpriced, self.runtime.gate.state(now))
        if refusal is not None:  # it holds all day as a rule (a breaker, a lock): a parked quote is let go
            self._release_idle_spread()
            self._refused(refusal, now)
            return
        spread = ensure_spread(plan.legs, self.cache, self.structure)
        self._awaiting[spread.id] = (package_id, plan)
        self._awaiting_since = now
        if spread.id == self._idle_spread:
            self._idle_spread = None
            return
        self._release_idle_spread()
        self.subscribe_quote_ticks(spread.id, params=AGGREGATED_SPREAD_QUOTES)

    def _unsubscribe_package(self, spread_id: InstrumentId) -> None:
        """Stop the package's quote aggregator: a plain unsubscribe leaves it pricing every leg quote."""
        self.unsubscribe_quote_ticks(spread_id, aggregate_spread_quotes=True)

    def _park(self, spread_id: InstrumentId) -> None:
        """Keep a refused entry's package quote subscribed until a different package is planned or the day ends.

        Each subscription makes Nautilus's message bus match the new topic against every topic it has published
        (five subscriptions for a fly: its quote and its aggregator's four legs), a cost that grows with every
        option a run has replayed: over 60 sample sessions, most of them after RISK-OFF, the refused entries'
        subscriptions took about 2.5 s of the strategies' 10 s above the engine's own. A package planned again
        reuses the subscription and acts, as before, on its first complete quote (every leg quoted within
        ``quote_snapshot_ms``): over minute quotes the very quote a fresh subscription would have priced the
        entry on; live it may come sooner (a fresh aggregator waits for a new quote of every leg), never from a
        staler snapshot.
        """
        if spread_id != self._idle_spread:
            self._release_idle_spread()
        self._idle_spread = spread_id

    def _release_idle_spread(self) -> None:
        if self._idle_spread is not None:
            self._unsubscribe_package(self._idle_spread)
            self._idle_spread = None

    def _submit_entry(
        self, spread_id: InstrumentId, package_id: str, plan: EntryPlan, now: int, quoted_ns: int
    ) -> None:
        touch = far_touch(plan.legs, self.cache, buy=True)
        if self._flattening or touch is None or touch == 0:
            self._unsubscribe_package(spread_id)
            return
        price = marketable_limit(touch, buy=True, scheme=self._ticks)
        intent = self._entry_intent(package_id, plan, price, now)
        decision = self.book.check(intent, self.runtime.gate.state(now))
        if not decision.allowed:
            self._park(spread_id)
            self._refused(decision, self._awaiting_since)
            return
        intent = intent.resized(decision.size)
        order = self.order_factory.limit(
            spread_id,
            OrderSide.BUY,
            Quantity.from_int(intent.quantity),
            Price(price, 2),
            time_in_force=TimeInForce.DAY,
            tags=package_tags(package_id),
        )
        package = _Package(PackageLedger.for_entry(intent), spread_id, plan.bias, quoted_ns=quoted_ns)
        package.ledger.submit_entry(order.client_order_id.value, intent.quantity, price)
        self.packages[package_id] = package
        self._track_order(order.client_order_id.value, package_id, now, None)
        self.submit_order(order)
        if package_id not in self.packages:  # the engine gate denied it on the spot: nothing was sent
            return
        self._entries_today += 1  # the gate recorded the entry against the day's trades and rate limits
        self._sync(package_id, now)

    def _entry_intent(self, package_id: str, plan: EntryPlan, price: float, now: int) -> Intent:
        legs = plan.legs
        return Intent(
            IntentKind.ENTRY, self.id.value, legs[0].contract.underlying, package_id, legs, plan.quantity, price, now
        )

    def _refused(self, decision: Decision, planned_ns: int) -> None:
        """The kernel refused the entry planned at ``planned_ns``: the next plan waits ``refusal_cooldown_s`` from
        then, whether the refusal came at once (a standing rule) or once the package was priced."""
        self.log.info(f"entry refused {decision.code.value}: {decision.reason}")
        self._cooldown_until = planned_ns + self.config.refusal_cooldown_s * NS_PER_SECOND

    # -- exits ---------------------------------------------------------------------------------------

    def exit_package(self, package_id: str, kind: ExitKind, quantity: int | None = None) -> None:
        """Close all of a package, or part of it for a partial take-profit, at the far touch."""
        package = self.packages.get(package_id)
        if package is None or not package.ledger.can_exit() or self._cancels_pending():
            return
        ledger = package.ledger
        qty = quantity if quantity is not None else ledger.quantity
        touch = far_touch(ledger.legs, self.cache, buy=False)
        if touch is None:
            return
        price = marketable_limit(touch, buy=False, scheme=self._ticks)
        if price <= 0 < ledger.filled_entry_price:  # OPEN (can_exit): the entry has filled
            # No bid for a debit package: a resting one-tick offer would sell it for a tick once bids return.
            # Try again on the next quote; what never finds a bid expires worthless at settlement.
            return
        if price == 0:
            price = -self._ticks.min_increment
        order = self.order_factory.limit(
            package.spread_id,
            OrderSide.SELL,
            Quantity.from_int(qty),
            Price(price, 2),
            time_in_force=TimeInForce.DAY,
            tags=package_tags(package_id, kind),
        )
        ledger.submit_exit(order.client_order_id.value, kind, qty)
        self._track_order(order.client_order_id.value, package_id, self.clock.timestamp_ns(), kind)
        self.submit_order(order)

    def _manage(self, now: int, hard: bool, slow: bool, timer: bool = False) -> None:
        """Every package: the EOD flatten first; otherwise the take-profits and the stop dimensions asked for."""
        for package_id, package in list(self.packages.items()):
            self._manage_package(package_id, package, now, hard, slow, timer)

    def _manage_package(
        self, package_id: str, package: _Package, now: int, hard: bool, slow: bool, timer: bool = False
    ) -> None:
        """The flatten's exit, a decided exit's re-send, or the package's checks on its marks.

        A timer's checks are skipped while nothing they read has changed since a timer's same checks decided
        nothing: no quote, bar or order event since (``_events_seen``). They read the legs' marks, spot and the
        time of the last complete quote, never the clock, and give the same answer on the same marks; over
        minute quotes the 5 s timer re-read unchanged marks 11 times a minute, about a fifth of the strategies'
        time on a trading day. Live, quotes keep coming and the checks run; the flatten and a re-send never wait.
        """
        if not package.ledger.can_exit():
            return
        if self._flattening:
            if self._flatten_due(package, now):
                self.exit_package(package_id, ExitKind.EOD_FLATTEN)
            return
        if package.exit_kind is not None:  # decided before; its order was cancelled: re-send, same kind
            self.exit_package(package_id, package.exit_kind)
            return
        checked = (self._events_seen, hard, slow)
        if timer and package.quoted_ns and package.quiet_at == checked:
            return
        premium, rule, spot = self._premium(package), package.exit_rule, self.spot
        if premium is None or rule is None or spot is None:  # spot: known from the first bar, before any order
            return
        marked_ns = package.quoted_ns or now  # a time-based exit acts on a mark of its time, never an older one
        kind = self._take_profit(package, premium) if slow else None
        if kind is None and hard:
            kind = rule.check_hard(premium, spot, marked_ns)
        if kind is None and slow:
            kind = rule.check_slow(premium, spot, marked_ns)
        if kind is ExitKind.TAKE_PROFIT_PARTIAL:
            package.partial_taken = True
            share = self.config.take_profit_partial_share
            self.exit_package(package_id, kind, max(1, int(package.ledger.quantity * share)))
        elif kind is not None:
            package.exit_kind = kind
            self.exit_package(package_id, kind)
        elif timer:
            package.quiet_at = checked

    def _take_profit(self, package: _Package, premium: float) -> ExitKind | None:
        """A share of the entry premium gained: of a credit (a fly decays), or of a debit (a strangle pays)."""
        cfg = self.config
        entry = package.entry_premium
        long_premium = package.ledger.filled_entry_price > 0
        gain = (premium - entry) / entry if long_premium else (entry - premium) / entry
        if cfg.take_profit_full_pct is not None and gain * 100 >= cfg.take_profit_full_pct:
            return ExitKind.TAKE_PROFIT_FULL
        if (
            cfg.take_profit_partial_pct is not None
            and not package.partial_taken
            and package.ledger.quantity >= 2
            and gain * 100 >= cfg.take_profit_partial_pct
        ):
            return ExitKind.TAKE_PROFIT_PARTIAL
        return None

    def _premium(self, package: _Package) -> float | None:
        """The package's mark as a positive magnitude: what it sells for (long) or costs to buy back (short)."""
        mid = package_mid(package.ledger.legs, self.cache)
        return None if mid is None else abs(mid)

    def _on_hard_timer(self, event: TimeEvent) -> None:
        self._manage(self.clock.timestamp_ns(), hard=True, slow=False, timer=True)

    def _on_slow_timer(self, event: TimeEvent) -> None:
        self._manage(self.clock.timestamp_ns(), hard=False, slow=True, timer=True)

    def _sync_timers(self) -> None:
        """The stop timers run only while a package is open: a flat strategy costs the engine nothing."""
        wanted = any(p.exit_rule is not None for p in self.packages.values())
        cfg = self.stop_config
        for name, enabled, interval, callback in (
            (
                HARD_TIMER,
                self.config.hard_stop_timer,
                timedelta(milliseconds=cfg.hard_interval_ms),
                self._on_hard_timer,
            ),
            (SLOW_TIMER, self.config.slow_stop_timer, timedelta(seconds=cfg.slow_interval_s), self._on_slow_timer),
        ):
            running = name in self.clock.timer_names
            if enabled and wanted and not running:
                self.clock.set_timer(name, interval, callback=callback)
            elif running and not wanted:
                self.clock.cancel_timer(name)

    # -- order events -> the ledger ------------------------------------------------------------------

    def on_order_event(self, event: OrderEvent) -> None:
        """Nautilus calls this after each order event's own handler: an order's state is what the exits read."""
        self._events_seen += 1

    def on_order_filled(self, event: OrderFilled) -> None:
        cid = event.client_order_id.value
        now = self.clock.timestamp_ns()
        if is_leg_fill(cid):
            self._on_leg_fill(event, cid)
            return
        package_id = self._order_package.get(cid)
        if package_id is None and sent_by_node_guard(cid):
            return  # the node guard closing what no package of ours claims: it books the close itself
        if package_id is None:
            self._risk_event(
                "", f"fill of {event.last_qty} on {event.instrument_id} by order {cid}, which no package sent", now
            )
            return
        if package_id in self.packages and event.commission is not None:
            # A combo fill carries the commission of all its leg fills, which arrive right after it.
            self.packages[package_id].fees += event.commission.as_double()
        self._apply(package_id, Fill(cid, event.trade_id.value, int(event.last_qty), event.last_px.as_double()), now)

    def on_order_canceled(self, event: OrderCanceled | OrderExpired) -> None:
        self._void(event, lambda cid, order: Cancelled(cid, int(order.filled_qty), order.avg_px or 0.0))

    def on_order_expired(self, event: OrderExpired) -> None:
        self.on_order_canceled(event)

    def on_order_rejected(self, event: OrderRejected) -> None:
        self._void(event, lambda cid, order: Rejected(cid, event.reason))

    def on_order_denied(self, event: OrderDenied) -> None:
        self.log.warning(f"order denied: {event.reason}")
        cid = event.client_order_id.value
        if cid in self._exit_kinds and self._exit_kinds[cid] is None:  # an entry: as after a kernel refusal
            self._cooldown_until = self.clock.timestamp_ns() + self.config.refusal_cooldown_s * NS_PER_SECOND
        # No immediate re-send: what the gate denied now it would deny again; the next bar or quote retries.
        self._void(event, lambda cid, order: Rejected(cid, event.reason), resend=False)

    def _void(self, event: OrderEvent, make: Callable[[str, Order], BrokerEvent], resend: bool = True) -> None:
        cid = event.client_order_id.value
        package_id = self._order_package.get(cid)
        now = self.clock.timestamp_ns()
        if package_id is not None:
            self._apply(package_id, make(cid, self.cache.order(event.client_order_id)), now, resend)
        elif resend and self._flattening:  # a cancel the flatten was waiting for: the exits may go now
            self._manage(now, hard=False, slow=False)

    def _apply(self, package_id: str, broker_event: BrokerEvent, now: int, resend: bool = True) -> None:
        package = self.packages.get(package_id)
        if package is None:
            return
        try:
            package.ledger.apply(broker_event)
        except LedgerError as exc:
            self._risk_event(package_id, f"the ledger cannot place {broker_event}: {exc}", now)
        self._sync(package_id, now, resend)

    def _risk_event(self, package_id: str, reason: str, now: int) -> None:
        """A fill the books cannot place is a risk event, never a log line alone: this strategy's entries
        stop until a person enables it again, and the journal carries the alert and the package to review."""
        self.log.error(f"RISK EVENT ({package_id or 'no package'}): {reason}")
        self.book.risk_event(self.id.value, package_id, reason, now)

    def _sync(self, package_id: str, now: int, resend: bool = True) -> None:
        """After any change: arm the stop at the first entry fill, close the books when FLAT, tell the risk book."""
        package = self.packages[package_id]
        ledger = package.ledger
        if ledger.quantity and package.exit_rule is None:
            assert self.spot is not None, "a fill comes after the bar its order was planned on"
            package.opened_ns = now
            package.entry_premium = abs(ledger.filled_entry_price)
            package.exit_rule = self._arm_exit(package, now)
        if ledger.state is PackageState.FLAT:
            self._close(package_id, package, now)
        else:
            self.book.track([ledger.view(self._unrealized(package))])
            # A cancelled exit came back during the flatten: re-send it, once the flatten minute's quote is in.
            if resend and self._flattening and ledger.can_exit() and self._flatten_due(package, now):
                self.exit_package(package_id, ExitKind.EOD_FLATTEN)
            self._release_quote_if_idle(package)
        self._sync_timers()

    def _release_quote_if_idle(self, package: _Package) -> None:
        """Let an open package's aggregated quote go when nothing can act on it before the flatten.

        A package held to the flatten (``HoldToFlatten``, no take-profit) with no order working decides
        nothing on its quotes: its marks (``_mark_packages``) and the flatten's exit price read the legs'
        quotes from the cache. Nautilus builds its aggregated quote on every leg quote, four a minute for a
        fly, each handled by the exchange and the data engine: about half of what the strategies cost a
        backtest beyond the engine's own. It is subscribed again at the flatten, whose exit goes on its first
        complete quote, so the exchange fills that exit on the flatten minute's package quote, as before. Only
        where the cache holds every quote (a backtest): a live node learns its legs' quotes through it.
        """
        idle = (
            self.runtime.cache_holds_every_quote
            and not self._flattening
            and not package.quote_released
            and isinstance(package.exit_rule, HoldToFlatten)
            and self.config.take_profit_full_pct is None
            and self.config.take_profit_partial_pct is None
            and package.ledger.state is PackageState.OPEN
        )
        if idle:
            package.quote_released = True
            self._unsubscribe_package(package.spread_id)

    def _arm_exit(self, package: _Package, now: int) -> ExitRule:
        """The package's exit rule from the strategy's exit policy, at its first entry fill."""
        policy, ledger, spot = self.exit_policy, package.ledger, self.spot
        assert spot is not None and self.day is not None, "armed at a fill, within a session"
        price = ledger.filled_entry_price
        marked_ns = package.quoted_ns or now  # the time of the quotes the entry was priced on: the rules' clock
        if isinstance(policy, HoldExit):
            return HoldToFlatten()
        if isinstance(policy, IronFlyExit) and price < 0:
            shorts = {leg.contract.strike for leg in ledger.legs if leg.ratio < 0}
            longs = [leg.contract.strike for leg in ledger.legs if leg.ratio > 0]
            if len(shorts) == 1 and longs:
                (body,) = shorts
                try:
                    levels = IronFlyLevels(-price, body, min(abs(k - body) for k in longs))
                except ValueError as exc:  # a fill no market makes: the seed's stop still guards the package
                    self.log.error(f"{ledger.package_id}: {exc}; armed the four-dimensional stop instead")
                else:
                    at = None if policy.time_exit is None else self._ny_ns(self.day, policy.time_exit)
                    return IronFlyRule(levels, policy.loss_credit_multiple, policy.breakeven_fraction, at)
        if isinstance(policy, StrangleExit) and price > 0:
            return StrangleRule(price, marked_ns, policy.loss_debit_fraction, policy.time_stop_minutes)
        if not isinstance(policy, FourDimensionalExit):
            self.log.error(f"{ledger.package_id}: {policy.kind} cannot arm on a fill at {price}; four-dimensional")
        return PackageStop.from_fill(self.stop_config, price, spot, marked_ns, package.bias)

    def _mark_packages(self) -> None:
        """Each open package's unrealized P&L at its legs' mids, to the risk book, once a bar.

        The day's P&L that ``enforce`` turns into locks and breakers, the ladder's steps and the kernel's loss
        rules all read it: marked only at this strategy's own fills, a fly held all day would never lose on
        paper, and no unrealized drawdown would lock the day.
        """
        views = []
        for package_id, package in self.packages.items():
            if not package.ledger.quantity:
                continue
            unrealized = self._unrealized(package)
            tracked = self.book.packages.get((self.id.value, package_id))
            if tracked is None or tracked.unrealized_pnl != unrealized:
                views.append(package.ledger.view(unrealized))
        if views:
            self.book.track(views)

    def _unrealized(self, package: _Package) -> float:
        ledger = package.ledger
        mid = package_mid(ledger.legs, self.cache)
        if mid is None or not ledger.quantity:
            return 0.0
        return (mid - ledger.filled_entry_price) * ledger.legs[0].contract.multiplier * ledger.quantity

    def _close(self, package_id: str, package: _Package, now: int) -> None:
        ledger = package.ledger
        del self.packages[package_id]
        if not package.quote_released:
            self._unsubscribe_package(package.spread_id)
        self.book.track([ledger.view()])
        exits = [o for o in ledger.orders if not o.is_entry and o.filled_qty]
        if not exits:  # an entry that never filled: nothing traded
            return
        pnl = ledger.realized_pnl - package.fees
        self.book.record_close(self.id.value, pnl, now)
        exit_qty = sum(o.filled_qty for o in exits)
        assert self.day is not None, "a package closes within a session"
        self.runtime.recorder.package_closed(
            PackageRecord(
                package_id=package_id,
                strategy_id=self.id.value,
                symbol=ledger.symbol,
                structure=self.structure,
                opened_at=iso_utc(package.opened_ns),
                closed_at=iso_utc(now),
                quantity=exit_qty,
                entry_price=round(ledger.filled_entry_price, 4),
                exit_price=round(sum(o.filled_value for o in exits) / exit_qty, 4),
                realized_pnl=round(pnl, 2),
                fees=round(package.fees, 2),
                exit_kinds=";".join(dict.fromkeys(o.exit_kind.value for o in exits if o.exit_kind is not None)),
                trading_date=self.day.isoformat(),
                reviews=";".join(r.code.value for r in ledger.reviews),
            )
        )

    # -- leg fills: the run folder, fees and expiry settlement ---------------------------------------

    def _on_leg_fill(self, event: OrderFilled, cid: str) -> None:
        instrument = self.cache.instrument(event.instrument_id)
        contract = to_contract(instrument)
        parent = leg_parent(cid)
        settlement = parent is None  # the venue's expiry settlement, not a leg of an order of ours
        if parent is None:
            package_id = self._settling_package(contract.instrument_id)
            role, kind = "exit", ExitKind.SETTLEMENT.value
        else:
            package_id = self._order_package.get(parent, "")
            exit_kind = self._exit_kinds.get(parent)
            role, kind = ("entry", "") if exit_kind is None else ("exit", exit_kind.value)
        fee = event.commission.as_double() if event.commission is not None else 0.0
        quote = self.cache.quote_tick(event.instrument_id)
        price = event.last_px.as_double()
        mid = price if settlement or quote is None else (quote.bid_price.as_double() + quote.ask_price.as_double()) / 2
        if settlement and package_id in self.packages:
            self.packages[package_id].fees += fee
        self.runtime.recorder.leg_fill(
            LegFill(
                ts_event=iso_utc(event.ts_event),
                strategy_id=self.id.value,
                package_id=package_id,
                instrument_id=contract.instrument_id,
                side=event.order_side.name,
                quantity=int(event.last_qty),
                price=price,
                role=role,
                exit_kind=kind,
                underlying=contract.underlying,
                right=contract.right.value,
                strike=contract.strike,
                expiry=trading_date(contract.expiry_ns).isoformat(),
                fee=fee,
                mid=round(mid, 4),
            )
        )
        if settlement:
            self._settlement[contract.instrument_id] = event.last_px.as_double()
            self._settle_complete_packages()

    def _settling_package(self, instrument_id: str) -> str:
        for package_id, package in self.packages.items():
            if package.ledger.quantity and any(
                leg.contract.instrument_id == instrument_id for leg in package.ledger.legs
            ):
                return package_id
        return ""

    def _settle_complete_packages(self) -> None:
        """Once every leg of a held package has its settlement price, close it at the package's value."""
        now = self.clock.timestamp_ns()
        for package_id, package in list(self.packages.items()):
            ledger = package.ledger
            prices = [p for leg in ledger.legs if (p := self._settlement.get(leg.contract.instrument_id)) is not None]
            if not ledger.quantity or len(prices) < len(ledger.legs):  # a leg not settled yet
                continue
            value = sum(leg.ratio * p for leg, p in zip(ledger.legs, prices, strict=True))
            for order in ledger.orders:
                if order.working:  # the engine cancels working orders at expiry; the legs have settled already
                    ledger.apply(Cancelled(order.order_id, order.filled_qty, order.avg_price or 0.0))
            try:
                ledger.settle(value)
            except LedgerError as exc:
                self._risk_event(package_id, f"the settlement at {value} cannot be booked: {exc}", now)
                continue
            self._sync(package_id, now)

    # -- helpers -------------------------------------------------------------------------------------

    def _track_order(self, cid: str, package_id: str, now: int, exit_kind: ExitKind | None) -> None:
        self._order_package[cid] = package_id
        self._submitted_ns[cid] = now
        self._exit_kinds[cid] = exit_kind

    def _cancels_pending(self) -> bool:
        """An order of ours is being cancelled: until the venue confirms, it may still fill, so the gate
        counts it as working and would take a new exit for an entry. The confirmation or the next bar retries."""
        return any(order.is_pending_cancel for order in self.cache.orders_open(strategy_id=self.id))

    def _cancel_stale_orders(self, now: int) -> None:
        """A limit that has not filled within ``order_timeout_s`` is cancelled; the ledger voids it."""
        limit_ns = self.config.order_timeout_s * NS_PER_SECOND
        for order in self.cache.orders_open(strategy_id=self.id):
            sent = self._submitted_ns.get(order.client_order_id.value)
            if sent is not None and now - sent >= limit_ns and not order.is_pending_cancel:
                self.cancel_order(order)

    def _drop_awaiting(self) -> None:
        for spread_id in self._awaiting:
            self._unsubscribe_package(spread_id)
        self._awaiting.clear()
        self._release_idle_spread()
