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

**Positions no ledger claims.** After a restart, Nautilus's startup reconciliation rebuilds the broker's
positions in the cache under the strategy ``EXTERNAL`` (the orders that opened them are not the node's any
more), and no odte strategy's package ledger knows them: no stop watches them and no strategy would close
them. Every open position, or part of one, that no live package of its strategy claims (the risk book's
package views, which the odte strategies keep from their ledgers) is therefore the guard's:

- at start, each is journaled as an ``alert`` and is a risk event for the strategy whose package the run's
  own leg fills (``fills.csv``, durable in a live run) say it belongs to - or for every strategy of the
  node when they cannot say: that strategy enters nothing more until a person enables it again (a
  restarted strategy does not know it holds the package, and would open another on top of it);
- at the flatten (at once for a node started again after it, before the close) it is closed with the rest,
  shorts first, by a market order of the guard's own under the position's strategy (through the Nautilus
  risk engine and the gate: an exit, derived as any other); its fills are recorded under the package they
  close, and the package's row is written to ``positions.csv`` once all its legs are flat, so the run's
  files hold the whole day, before and after the restart.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from nautilus_trader.common.actor import Actor
from nautilus_trader.config import ActorConfig
from nautilus_trader.core.uuid import UUID4
from nautilus_trader.execution.messages import SubmitOrder
from nautilus_trader.model.enums import OrderSide, OrderStatus, TimeInForce
from nautilus_trader.model.events import OrderFilled
from nautilus_trader.model.identifiers import ClientOrderId, StrategyId
from nautilus_trader.model.objects import Quantity
from nautilus_trader.model.orders import MarketOrder

from odte_nautilus.gate import EngineGate
from odte_nautilus.node_exposure import ORDER_EVENTS
from odte_nautilus.orders import package_tags
from odte_nautilus.recorder import LegFill, PackageRecord, RunRecorder
from odte_nautilus.risk.model import CONTRACT_MULTIPLIER, CoverGroup, ExitKind, Holding, holdings_of_packages
from odte_nautilus.risk.session import SessionWindow, TradingCalendar, trading_date
from odte_nautilus.risk.time_units import MINUTE_NS, NS_PER_SECOND

if TYPE_CHECKING:
    from nautilus_trader.common.component import TimeEvent
    from nautilus_trader.model.events import OrderEvent
    from nautilus_trader.model.identifiers import InstrumentId
    from nautilus_trader.model.position import Position
    from nautilus_trader.trading.strategy import Strategy

FLATTEN_ALERT = "odte-node-flatten"
SWEEP_TIMER = "odte-node-sweep"
SWEEP_EVERY_S = 10
QUOTE_WAIT_NS = MINUTE_NS  # a close waits for its contract's quote of the flatten minute, at most that minute
RISK_ENGINE = (
    "RiskEngine.execute"  # where a strategy's submit goes (Strategy.submit_order): Nautilus's checks, the gate
)
UNCLAIMED = "unclaimed_position"
RECOVERED_REVIEW = "RECOVERED_AFTER_RESTART"


GUARD_MARK = "-GUARD-"  # in the client order id of every close the guard sends under a strategy's id


def sent_by_node_guard(client_order_id: str) -> bool:
    """A close the guard sent in a strategy's name: the guard books it, the strategy's ledger must not."""
    return GUARD_MARK in client_order_id


class NodeGuard(Actor):
    def __init__(self, gate: EngineGate) -> None:
        super().__init__(ActorConfig(component_id="OdteNodeGuard"))
        self._gate = gate
        self._book = gate.book
        self._next: SessionWindow | None = None  # the session whose flatten alert is set
        self._today: SessionWindow | None = None  # the session being flattened (swept until its close)
        self._recorder: RunRecorder | None = None
        self._recovered: dict[tuple[str, str], _Recovered] = {}  # (strategy, package) the run's fills hold open
        self._closes: dict[str, str] = {}  # client order id of a close of the guard's -> the strategy it closes for
        self._sent = 0

    def on_start(self) -> None:
        from odte_nautilus.runtime import runtime_for  # the runtime imports this module

        now = self.clock.timestamp_ns()
        self._recorder = runtime_for(self.trader_id.value).recorder
        self._recovered = _open_packages(self._recorder)
        self.msgbus.subscribe(ORDER_EVENTS, self._on_order_event)
        self._alert_unclaimed(now)
        self._schedule(now)

    def _schedule(self, after_ns: int) -> None:
        """Set the alert for the flatten of the next session still open at ``after_ns`` (a node started again
        between a session's flatten and its close flattens at once: what the broker holds is closed)."""
        flatten_minutes = self._book.policy.eod.flatten_minutes_before_close
        session = flatten_session(self._book.calendar, flatten_minutes, after_ns)
        if session is not None:
            self._next = session
            self.clock.set_time_alert_ns(FLATTEN_ALERT, session.flatten_ns, self._on_flatten, allow_past=True)

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
        """One round: close what expires today, shorts before longs, one order per position at a time.

        Each strategy that keeps no ledger has all its positions closed (through it when it runs here); a
        strategy with a ledger has closed only what no live package of it claims (after a restart, say), and
        a strategy not on this node (``EXTERNAL``: reconciled from the broker) has all of its closed too.
        """
        session = self._today
        if session is None:
            return
        now = self.clock.timestamp_ns()
        strategies = self._gate.strategies()
        snapshot = self._gate.exposure.snapshot()
        busy = {w.strategy_id for w in snapshot.working} | self._on_their_way()
        for strategy_id, held in snapshot.strategies.items():
            if strategy_id in busy:
                continue  # an order of it is still working or on its way: the next round sees what it left
            strategy = strategies.get(strategy_id)
            ledger = strategy_id in self._gate.self_reporting
            closing = self._unclaimed(strategy_id, held) if ledger or strategy is None else held
            expiring = {
                iid: h for iid, h in closing.items() if trading_date(h.contract.expiry_ns) == session.trading_date
            }
            shorts = {iid for iid, h in expiring.items() if h.quantity < 0}
            short_groups = {_group(expiring[iid]) for iid in shorts}
            for position in self.cache.positions_open(strategy_id=StrategyId(strategy_id)):
                iid = position.instrument_id.value
                holding = expiring.get(iid)
                if holding is None or (iid not in shorts and _group(holding) in short_groups):
                    continue
                if not self._quoted_for_flatten(position.instrument_id, session, now):
                    continue  # its quote of the flatten minute is not in yet: the next round
                tags = package_tags(f"eod-{iid}", ExitKind.EOD_FLATTEN)
                if strategy is not None and not ledger:
                    strategy.close_position(position, tags=tags)
                else:
                    self._close(position, abs(holding.quantity), strategy, tags, now)

    def _on_their_way(self) -> set[str]:
        """Strategies with an order created but not yet through the gate (a live node queues commands): it is
        not working yet, and a close sent again now would be a second one."""
        return {order.strategy_id.value for order in self.cache.orders() if order.status == OrderStatus.INITIALIZED}

    def _unclaimed(self, strategy_id: str, held: dict[str, Holding]) -> dict[str, Holding]:
        """What ``strategy_id`` holds beyond what its held packages (the risk book's views: OPEN or PENDING_EXIT)
        put in the account. A package still PENDING_ENTRY claims nothing: the sweep passes a strategy by while
        an order of it works, so such a package's entry is over and its ledger already says what it holds."""
        views = tuple(view for (sid, _), view in self._book.packages.items() if sid == strategy_id)
        claimed = holdings_of_packages(views)
        out = {}
        for iid, holding in held.items():
            rest = holding.quantity - (claimed[iid].quantity if iid in claimed else 0)
            if rest and (rest > 0) == (holding.quantity > 0):
                out[iid] = Holding(holding.contract, rest if abs(rest) < abs(holding.quantity) else holding.quantity)
        return out

    def _close(self, position: Position, quantity: int, strategy: Strategy | None, tags: list[str], now: int) -> None:
        """A market order of the guard's closing ``quantity`` of ``position``, under the position's strategy."""
        self._sent += 1
        stamp = datetime.fromtimestamp(now / NS_PER_SECOND, UTC).strftime("%Y%m%d-%H%M%S")
        order = MarketOrder(
            trader_id=self.trader_id,
            strategy_id=position.strategy_id,
            instrument_id=position.instrument_id,
            client_order_id=ClientOrderId(f"O-{stamp}-{self.trader_id.get_tag()}{GUARD_MARK}{self._sent}"),
            order_side=OrderSide.BUY if position.signed_qty < 0 else OrderSide.SELL,
            quantity=Quantity.from_int(quantity),
            init_id=UUID4(),
            ts_init=now,
            time_in_force=TimeInForce.DAY,
            reduce_only=True,
            tags=tags,
        )
        self._closes[order.client_order_id.value] = position.strategy_id.value
        self.log.warning(
            f"closing {quantity} of {position.instrument_id} for {position.strategy_id}: no ledger claims it"
        )
        if strategy is not None:
            strategy.submit_order(order, position_id=position.id)
            return
        self.cache.add_order(order, position.id)
        command = SubmitOrder(
            trader_id=self.trader_id,
            strategy_id=position.strategy_id,
            order=order,
            command_id=UUID4(),
            ts_init=now,
            position_id=position.id,
        )
        self.msgbus.send(RISK_ENGINE, command)

    # -- positions no ledger claims: the alert, the records --------------------------------------------

    def _alert_unclaimed(self, now: int) -> None:
        """Journal every position no ledger claims; each is a risk event for the strategy it belongs to."""
        snapshot = self._gate.exposure.snapshot()
        owners: dict[str, str] = {}  # strategy -> package (or "" when the run's fills do not say)
        for strategy_id, held in sorted(snapshot.strategies.items()):
            for iid, holding in sorted(self._unclaimed(strategy_id, held).items()):
                packages = [k for k, r in self._recovered.items() if r.open_legs().get(iid)]
                reason = (
                    f"{holding.quantity:+d} {iid} held under {strategy_id}, claimed by no package ledger (a restart):"
                    " no stop watches it; the node flattens it at the EOD flatten"
                )
                self.log.error(f"ALERT {reason}")
                self._book.journal.append(
                    "alert",
                    ts_ns=now,
                    about=UNCLAIMED,
                    instrument=iid,
                    strategy=strategy_id,
                    quantity=holding.quantity,
                    packages=[package for _, package in packages],
                    reason=reason,
                )
                for sid, package in packages:
                    owners.setdefault(sid, package)
                if not packages:
                    for sid in self._gate.strategies():
                        owners.setdefault(sid, "")
        for sid, package in owners.items():
            self._book.risk_event(
                sid, package, "a position of it is held at the broker that its ledger does not know (a restart)", now
            )

    def _on_order_event(self, event: OrderEvent) -> None:
        if not isinstance(event, OrderFilled) or event.client_order_id.value not in self._closes:
            return
        if self._recorder is None:
            return
        iid = event.instrument_id.value
        sign = 1 if event.order_side == OrderSide.BUY else -1
        left = int(event.last_qty)
        for key, package in self._recovered.items():
            if left <= 0:
                break
            open_qty = package.open_legs().get(iid, 0)
            if open_qty * sign >= 0:
                continue  # it does not hold the other side of this fill
            take = min(left, abs(open_qty))
            fee = event.commission.as_double() * take / int(event.last_qty) if event.commission is not None else 0.0
            fill = self._leg_fill(event, key, take, round(fee, 2))
            if fill is None:
                return
            self._recorder.leg_fill(fill)
            package.rows.append(fill)
            left -= take
            if not any(package.open_legs().values()):
                self._recorder.package_closed(package.record())

    def _leg_fill(self, event: OrderFilled, key: tuple[str, str], quantity: int, fee: float) -> LegFill | None:
        contract = self._gate.exposure.contract(event.instrument_id)
        if contract is None:
            return None
        quote = self.cache.quote_tick(event.instrument_id)
        price = event.last_px.as_double()
        mid = price if quote is None else (quote.bid_price.as_double() + quote.ask_price.as_double()) / 2
        return LegFill(
            ts_event=_iso(event.ts_event),
            strategy_id=key[0],
            package_id=key[1],
            instrument_id=contract.instrument_id,
            side=event.order_side.name,
            quantity=quantity,
            price=price,
            role="exit",
            exit_kind=ExitKind.EOD_FLATTEN.value,
            underlying=contract.underlying,
            right=contract.right.value,
            strike=contract.strike,
            expiry=trading_date(contract.expiry_ns).isoformat(),
            fee=fee,
            mid=round(mid, 4),
        )

    def _quoted_for_flatten(self, instrument_id: InstrumentId, session: SessionWindow, now: int) -> bool:
        """A close may go: its contract is quoted in the flatten minute, or that minute is over."""
        if now >= session.flatten_ns + QUOTE_WAIT_NS:
            return True
        quote = self.cache.quote_tick(instrument_id)
        return quote is not None and quote.ts_event >= session.flatten_ns

    def _cancel(self, client_order_id: str) -> None:
        self._gate.cancel_order(client_order_id, self.clock.timestamp_ns())


def flatten_session(calendar: TradingCalendar, flatten_minutes: int, after_ns: int) -> SessionWindow | None:
    """The first session not yet closed at ``after_ns``: the one whose flatten is due next, or is under way."""
    day = trading_date(after_ns)
    for offset in range(10):  # the longest market closure is a few days
        session = calendar.session_window(day + timedelta(days=offset), flatten_minutes)
        if session is not None and session.close_ns > after_ns:
            return session
    return None


def _group(holding: Holding) -> CoverGroup:
    ct = holding.contract
    return ct.underlying, ct.expiry_ns, ct.right


def _iso(ts_ns: int) -> str:
    """The recorder's time stamps (as the strategies write them): ISO UTC to the nanosecond."""
    seconds, nanos = divmod(ts_ns, NS_PER_SECOND)
    return f"{datetime.fromtimestamp(seconds, UTC):%Y-%m-%dT%H:%M:%S}.{nanos:09d}Z"


def _ns(iso: str) -> int:
    """The inverse of ``_iso``, to the second (enough for a trading date)."""
    return int(datetime.strptime(iso[:19], "%Y-%m-%dT%H:%M:%S").replace(tzinfo=UTC).timestamp()) * NS_PER_SECOND


@dataclass
class _Recovered:
    """A package the run's leg fills hold open (a node before this one opened it): its rows, entry and exit."""

    strategy_id: str
    package_id: str
    rows: list[LegFill] = field(default_factory=list)

    def open_legs(self) -> dict[str, int]:
        out: dict[str, int] = defaultdict(int)
        for row in self.rows:
            out[row.instrument_id] += row.quantity if row.side == "BUY" else -row.quantity
        return {iid: qty for iid, qty in out.items() if qty}

    def record(self) -> PackageRecord:
        """Its ``positions.csv`` row, priced as a ledger prices a package: signed nets per package (credit
        negative), the P&L from the cash of every leg fill, fees included."""
        entries = [r for r in self.rows if r.role == "entry"]
        exits = [r for r in self.rows if r.role != "entry"]
        size = min(abs(q) for q in _net(entries).values()) if entries else 1
        cash = sum((-1 if r.side == "BUY" else 1) * r.price * r.quantity for r in self.rows)
        fees = sum(r.fee for r in self.rows)
        entry_net = sum((1 if r.side == "BUY" else -1) * r.price * r.quantity for r in entries) / size
        exit_net = sum((-1 if r.side == "BUY" else 1) * r.price * r.quantity for r in exits) / size
        return PackageRecord(
            package_id=self.package_id,
            strategy_id=self.strategy_id,
            symbol=self.rows[0].underlying,
            structure="RECOVERED",
            opened_at=min(r.ts_event for r in self.rows),
            closed_at=max(r.ts_event for r in self.rows),
            quantity=size,
            entry_price=round(entry_net, 4),
            exit_price=round(exit_net, 4),
            realized_pnl=round(cash * CONTRACT_MULTIPLIER - fees, 2),
            fees=round(fees, 2),
            exit_kinds=";".join(dict.fromkeys(r.exit_kind for r in exits if r.exit_kind)),
            trading_date=trading_date(_ns(min(r.ts_event for r in self.rows))).isoformat(),
            reviews=RECOVERED_REVIEW,
        )


def _net(rows: list[LegFill]) -> dict[str, int]:
    out: dict[str, int] = defaultdict(int)
    for row in rows:
        out[row.instrument_id] += row.quantity if row.side == "BUY" else -row.quantity
    return out


def _open_packages(recorder: RunRecorder) -> dict[tuple[str, str], _Recovered]:
    """The packages the run's leg fills so far hold open and ``positions.csv`` does not close."""
    closed = {(p.strategy_id, p.package_id) for p in recorder.run_packages()}
    packages: dict[tuple[str, str], _Recovered] = {}
    for row in recorder.run_fills():
        key = (row.strategy_id, row.package_id)
        if key not in closed and row.package_id:
            packages.setdefault(key, _Recovered(*key)).rows.append(row)
    return {key: package for key, package in packages.items() if package.open_legs()}
