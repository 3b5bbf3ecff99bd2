"""The node's own EOD flatten: every strategy's working orders and expiring positions, whoever opened them.

The odte strategies flatten their own packages at close - 15 min (``OdteStrategy._on_eod``), as packages.
That is not enough for the node: a plain Nautilus strategy or a manual trader on the same node had a
resting order fill after 15:45 and positions open at 15:59. So this actor, attached with the gate, acts at
every session's flatten time for the whole node (seed 000: force_cancel_all_before_eod_flatten):

1. the day is locked (nothing risk-increasing passes from anyone: the kernel refuses every entry from the
   flatten on, and the lock survives a restart);
2. every working order of every strategy that keeps no package ledger of its own is cancelled;
3. every few seconds until the close, each such strategy's positions in contracts that expire today are
   closed at market - short legs first, long legs only once no short of their group is left or being
   bought back, so no short is ever left uncovered on the way (the gate would refuse it anyway). As the
   odte strategies' own flatten, a close waits for its contract's quote of the flatten minute (at the
   flatten instant the cache still holds the previous minute's, which a market order would fill against),
   and goes on what the cache holds once that minute is over: the wait never outlasts the minute.

The odte strategies are left to their own flatten: it closes packages as packages and never offers a
package for a tick when its legs have no bid (what cannot be sold is cash-settled at 16:00 instead).
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from nautilus_trader.common.actor import Actor
from nautilus_trader.config import ActorConfig

from odte_nautilus.gate import EngineGate
from odte_nautilus.orders import package_tags
from odte_nautilus.risk.model import CoverGroup, ExitKind, Holding
from odte_nautilus.risk.session import SessionWindow, trading_date
from odte_nautilus.risk.time_units import MINUTE_NS, NS_PER_SECOND

if TYPE_CHECKING:
    from nautilus_trader.common.component import TimeEvent
    from nautilus_trader.model.identifiers import InstrumentId

FLATTEN_ALERT = "odte-node-flatten"
SWEEP_TIMER = "odte-node-sweep"
SWEEP_EVERY_S = 10
QUOTE_WAIT_NS = MINUTE_NS  # a close waits for its contract's quote of the flatten minute, at most that minute


class NodeGuard(Actor):
    def __init__(self, gate: EngineGate) -> None:
        super().__init__(ActorConfig(component_id="OdteNodeGuard"))
        self._gate = gate
        self._book = gate.book
        self._next: SessionWindow | None = None  # the session whose flatten alert is set
        self._today: SessionWindow | None = None  # the session being flattened (swept until its close)

    def on_start(self) -> None:
        self._schedule(self.clock.timestamp_ns())

    def _schedule(self, after_ns: int) -> None:
        """Set the alert for the next session's flatten at or after ``after_ns``."""
        day = trading_date(after_ns)
        flatten_minutes = self._book.policy.eod.flatten_minutes_before_close
        for offset in range(10):  # the longest market closure is a few days
            session = self._book.calendar.session_window(day + timedelta(days=offset), flatten_minutes)
            if session is not None and session.flatten_ns >= after_ns:
                self._next = session
                self.clock.set_time_alert_ns(FLATTEN_ALERT, session.flatten_ns, self._on_flatten, allow_past=True)
                return

    def _on_flatten(self, event: TimeEvent) -> None:
        now = self.clock.timestamp_ns()
        self._book.lock_for_eod(now)
        for order in self._gate.exposure.snapshot().working:
            if order.strategy_id not in self._gate.self_reporting:
                self._cancel(order.order_id)
        session = self._today = self._next
        self._sweep(None)
        if session is not None and SWEEP_TIMER not in self.clock.timer_names:
            self.clock.set_timer_ns(
                SWEEP_TIMER, SWEEP_EVERY_S * NS_PER_SECOND, now, session.close_ns, self._sweep, allow_past=True
            )
        self._schedule(session.close_ns if session is not None else now + 1)

    def _sweep(self, event: TimeEvent | None) -> None:
        """One round: close what expires today, shorts before longs, one order per position at a time."""
        session = self._today
        if session is None:
            return
        now = self.clock.timestamp_ns()
        strategies = self._gate.strategies()
        snapshot = self._gate.exposure.snapshot()
        busy = {w.strategy_id for w in snapshot.working}
        for strategy_id, held in snapshot.strategies.items():
            strategy = strategies.get(strategy_id)
            if strategy is None or strategy_id in busy or strategy_id in self._gate.self_reporting:
                continue  # not ours to close, or an order of it is still working: the next round sees it
            expiring = {iid: h for iid, h in held.items() if trading_date(h.contract.expiry_ns) == session.trading_date}
            shorts = {iid for iid, h in expiring.items() if h.quantity < 0}
            short_groups = {_group(expiring[iid]) for iid in shorts}
            for position in self.cache.positions_open(strategy_id=strategy.id):
                iid = position.instrument_id.value
                holding = expiring.get(iid)
                if holding is None or (iid not in shorts and _group(holding) in short_groups):
                    continue
                if not self._quoted_for_flatten(position.instrument_id, session, now):
                    continue  # its quote of the flatten minute is not in yet: the next round
                strategy.close_position(position, tags=package_tags(f"eod-{iid}", ExitKind.EOD_FLATTEN))

    def _quoted_for_flatten(self, instrument_id: InstrumentId, session: SessionWindow, now: int) -> bool:
        """A close may go: its contract is quoted in the flatten minute, or that minute is over."""
        if now >= session.flatten_ns + QUOTE_WAIT_NS:
            return True
        quote = self.cache.quote_tick(instrument_id)
        return quote is not None and quote.ts_event >= session.flatten_ns

    def _cancel(self, client_order_id: str) -> None:
        self._gate.cancel_order(client_order_id, self.clock.timestamp_ns())


def _group(holding: Holding) -> CoverGroup:
    ct = holding.contract
    return ct.underlying, ct.expiry_ns, ct.right
