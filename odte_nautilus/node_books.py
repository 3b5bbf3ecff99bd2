"""Packages of the strategies that keep no package ledger of their own: manual traders, plain Nautilus ones.

The risk book's counters - trades per day, the day's P&L and its ladder, the loss streak, the breakers,
``forbid_add_to_loser`` - must learn from every fill of the node, whoever sent it: a manual strategy that
lost 5 % of NAV must not be able to enter again. The odte strategies report their packages themselves
(exactly, from their ledgers); for every other strategy this module keeps a conservative picture:

- each entry the gate allows is one package (the gate opens it, ``opened``);
- a strategy's packages on an underlying close together when it holds nothing there and has no working
  order there: one round trip, whose P&L (the realized P&L of the positions it closed, commissions
  included) is booked as one trade - for the streak and the ladder - with ``RiskBook.record_close``;
- until then they carry the whole entry quantity (open risk is over- rather than under-counted) and the
  unrealized P&L of the strategy's positions on that underlying at mid, refreshed before a gate check
  after any position change and at least once a second of the node's clock (a mark is read on the order
  path, so it is not recomputed for every order of a burst).
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from nautilus_trader.model.enums import PriceType
from nautilus_trader.model.events import PositionClosed
from nautilus_trader.model.identifiers import StrategyId

from odte_nautilus.node_exposure import ORDER_EVENTS, POSITION_EVENTS, NodeExposure
from odte_nautilus.risk.book import RiskBook
from odte_nautilus.risk.model import Intent, PackageState
from odte_nautilus.risk.time_units import NS_PER_SECOND

if TYPE_CHECKING:
    from nautilus_trader.cache.cache import Cache
    from nautilus_trader.common.component import Clock, MessageBus
    from nautilus_trader.model.events import OrderEvent, PositionEvent
    from nautilus_trader.model.identifiers import InstrumentId

Key = tuple[str, str]  # (strategy id, underlying)
MARK_EVERY_NS = NS_PER_SECOND


class ForeignPackages:
    def __init__(
        self,
        cache: Cache,
        clock: Clock,
        msgbus: MessageBus,
        book: RiskBook,
        exposure: NodeExposure,
        self_reporting: set[str],
    ) -> None:
        self._cache = cache
        self._clock = clock
        self._book = book
        self._exposure = exposure
        self._self_reporting = self_reporting
        self._open: dict[Key, list[str]] = {}  # package ids of the round trip under way
        self._pnl: dict[Key, float] = {}  # realized P&L of the round trip so far
        self._traded: set[Key] = set()  # round trips that filled something
        self._marked_ns: int | None = None  # when the marks were last refreshed (None: stale)
        msgbus.subscribe(ORDER_EVENTS, self._on_order_event)
        msgbus.subscribe(POSITION_EVENTS, self._on_position_event)

    def opened(self, intent: Intent) -> None:
        self._open.setdefault((intent.strategy_id, intent.symbol), []).append(intent.package_id)

    def forget(self, intent: Intent) -> None:
        ids = self._open.get((intent.strategy_id, intent.symbol), [])
        if intent.package_id in ids:
            ids.remove(intent.package_id)

    # -- events ----------------------------------------------------------------------------------------

    def _on_position_event(self, event: PositionEvent) -> None:
        key = self._key(event.strategy_id.value, event.instrument_id)
        if key is None:
            return
        self._traded.add(key)
        self._marked_ns = None
        if isinstance(event, PositionClosed):
            self._pnl[key] = self._pnl.get(key, 0.0) + event.realized_pnl.as_double()
        self._settle(key)

    def _on_order_event(self, event: OrderEvent) -> None:
        key = self._key(event.strategy_id.value, event.instrument_id)
        if key is not None and key in self._open:
            self._settle(key)

    def _key(self, strategy_id: str, instrument_id: InstrumentId) -> Key | None:
        if strategy_id in self._self_reporting:
            return None
        try:
            legs = self._exposure.legs(instrument_id)
        except LookupError:
            return None
        return strategy_id, legs[0].contract.underlying

    # -- the round trip --------------------------------------------------------------------------------

    def _settle(self, key: Key) -> None:
        """Close the round trip once the strategy holds nothing on the underlying and nothing works there."""
        strategy_id, symbol = key
        snapshot = self._exposure.snapshot()
        if any(h.contract.underlying == symbol for h in snapshot.strategies.get(strategy_id, {}).values()):
            self._mark_ids(strategy_id, self._open.get(key, []), PackageState.OPEN)
            return
        if any(w.strategy_id == strategy_id and w.legs[0].contract.underlying == symbol for w in snapshot.working):
            return
        ids = self._open.pop(key, [])
        self._mark_ids(strategy_id, ids, PackageState.FLAT)
        pnl = self._pnl.pop(key, 0.0)
        if key in self._traded:
            self._traded.discard(key)
            self._book.record_close(strategy_id, pnl, self._clock.timestamp_ns())

    def _mark_ids(
        self, strategy_id: str, ids: list[str], state: PackageState | None, unrealized: float | None = None
    ) -> None:
        """Update the book's views of these packages: a new state (None: keep it) and/or an unrealized P&L."""
        views = []
        for i, package_id in enumerate(ids):
            view = self._book.packages.get((strategy_id, package_id))
            if view is None:
                continue
            changes: dict = {} if state is None or state is view.state else {"state": state}
            mark = unrealized if i == 0 else 0.0
            if unrealized is not None and mark != view.unrealized_pnl:  # a NaN mark is always news (NaN != NaN)
                changes["unrealized_pnl"] = mark
            if changes:
                views.append(replace(view, **changes))
        if views:
            self._book.track(views)

    def refresh_marks(self) -> None:
        """Each round trip's unrealized P&L at mid, on its first package (forbid_add_to_loser, the ladder)."""
        now = self._clock.timestamp_ns()
        if not self._open or (self._marked_ns is not None and now - self._marked_ns < MARK_EVERY_NS):
            return
        self._marked_ns = now
        for key, ids in self._open.items():
            strategy_id, symbol = key
            total = 0.0
            for position in self._cache.positions_open(strategy_id=StrategyId(strategy_id)):
                contract = self._exposure.contract(position.instrument_id)
                if contract is None or contract.underlying != symbol:
                    continue
                quote = self._cache.quote_tick(position.instrument_id)
                if quote is None:
                    total = float("nan")  # no mark: not known to win
                    break
                mid = self._cache.price(position.instrument_id, PriceType.MID)
                total += position.unrealized_pnl(mid).as_double()
            self._mark_ids(strategy_id, ids, None, total)
