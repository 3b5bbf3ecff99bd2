"""The kernel where every order reaches an execution client (docs/decisions/0001-gate-at-the-last-hop.md).

The gate takes over the two message-bus endpoints an order can reach a venue through: ``ExecEngine.execute``
(the last hop before the execution clients: Nautilus's RiskEngine forwards there after its own rate and
precision checks, the OrderEmulator releases there, exec-algorithm children arrive there) and
``OrderEmulator.execute`` (where emulated orders are submitted and modified). So a strategy's order, a
manual one, ``close_all_positions``, a released emulated order and an algorithm's child all meet the kernel.

Each submit and each modify is decided as the order it is (or would become) against the **worst case**:
its sender's filled positions plus every working order of the node assumed filled in the way that hurts
most, per strategy and per account (``risk.exposure``). Whether an order is an exit is derived from its
sender's book, never read from a tag or ``reduce_only``. What the gate allows it records: the order counts
as working, an entry counts against the day's trades and rate limits and is a live package at once.
A refusal reaches the sender as ``OrderDenied`` (or ``OrderModifyRejected``) whose reason starts with the
kernel's reason code. When the kill switch engages, working entries are cancelled.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING

from nautilus_trader.execution.messages import ModifyOrder, SubmitOrder, SubmitOrderList
from nautilus_trader.model.orders import Order

from odte_nautilus.nautilus_internals import (
    EMULATOR_ENDPOINT,
    EXEC_ENDPOINT,
    deny,
    reject_modify,
    take_over_endpoint,
)
from odte_nautilus.node_books import ForeignPackages
from odte_nautilus.node_exposure import NodeExposure, client_order_id
from odte_nautilus.orders import MalformedTag, UnknownInstrument, cancel_command, order_intent, signed_price
from odte_nautilus.risk.book import RiskBook
from odte_nautilus.risk.decision import Decision, ReasonCode
from odte_nautilus.risk.exposure import derive_kind
from odte_nautilus.risk.model import Intent, IntentKind, PackageState, PackageView, RiskState

if TYPE_CHECKING:
    from nautilus_trader.core.message import Command
    from nautilus_trader.system.kernel import NautilusKernel


def denial_reason(decision: Decision) -> str:
    """The text of an ``OrderDenied``: the code first, so it can be read back by machines and people."""
    return f"{decision.code.value}: {decision.reason}"


class EngineGate:
    """Owns the order endpoints of one Nautilus kernel (backtest or live) and the node's exposure."""

    def __init__(self, kernel: NautilusKernel, book: RiskBook) -> None:
        self._kernel = kernel
        self._risk = kernel.risk_engine
        self._cache = kernel.cache
        self._clock = kernel.clock
        self._msgbus = kernel.msgbus
        self.book = book
        self.exposure = NodeExposure(self._cache, self._msgbus)
        self.self_reporting: set[str] = set()  # strategies that keep their own package ledger (OdteStrategy)
        self.foreign = ForeignPackages(self._cache, self._clock, self._msgbus, book, self.exposure, self.self_reporting)
        self._counted: set[str] = set()  # entries already recorded (an emulated order is checked twice)
        self._entry_of: dict[tuple[str, str], str] = {}  # (strategy, package) -> the entry order allowed for it
        self._kill_seen = False
        self._forward: dict[str, Callable[[Command], None]] = {}

    def install(self) -> EngineGate:
        kernel, bus = self._kernel, self._msgbus
        self._forward[EXEC_ENDPOINT] = take_over_endpoint(bus, EXEC_ENDPOINT, kernel.exec_engine.execute, self.execute)
        emulator = kernel.emulator.execute
        self._forward[EMULATOR_ENDPOINT] = take_over_endpoint(bus, EMULATOR_ENDPOINT, emulator, self.emulate)
        self.book.on_kill(self.cancel_working_entries)
        return self

    # -- the endpoints --------------------------------------------------------------------------------

    def execute(self, command: Command) -> None:
        self._gate(command, self._forward[EXEC_ENDPOINT])

    def emulate(self, command: Command) -> None:
        self._gate(command, self._forward[EMULATOR_ENDPOINT])

    def _gate(self, command: Command, forward: Callable[[Command], None]) -> None:
        if isinstance(command, SubmitOrder):
            reason = self._submit_refusal([command.order])
        elif isinstance(command, SubmitOrderList):
            reason = self._submit_refusal(list(command.order_list.orders))
        elif isinstance(command, ModifyOrder):
            reason = self._modify_refusal(command)
            if reason is not None:
                reject_modify(self._risk, self._cache.order(command.client_order_id), reason)
                return
        else:
            reason = None
        if reason is None:
            forward(command)
        else:
            deny(self._risk, self._msgbus, self._clock, command, reason)

    # -- decisions ------------------------------------------------------------------------------------

    def state(self, now_ns: int) -> RiskState:
        """The kernel's view of the node now, as the gate decides on it (a strategy asks on this too)."""
        snapshot = self.exposure.snapshot()
        self.foreign.refresh_marks()
        return self.book.state(now_ns, snapshot.account, snapshot.strategies, snapshot.working)

    def _submit_refusal(self, orders: list[Order]) -> str | None:
        """Decide each order of a submit in turn, each seeing the ones before it as working and live.

        A list is all or nothing: one refusal denies every order of it and forgets what the earlier ones
        recorded - except their entry counts, which stay (a conservative over-count, never an under-count).
        """
        allowed: list[tuple[Order, Intent]] = []
        for order in orders:
            reason, intent = self._decide(order, int(order.leaves_qty), None)
            if reason is not None:
                for earlier, earlier_intent in allowed:
                    self._forget(earlier, earlier_intent)
                return reason
            assert intent is not None, "an allowed order has its intent"  # _decide: None only with a reason
            self._record(order, intent)
            allowed.append((order, intent))
        return None

    def _modify_refusal(self, command: ModifyOrder) -> str | None:
        """Every modify is decided as the order it would become: its new leaves at its new price."""
        order = self._cache.order(command.client_order_id)
        if order is None:
            return None  # Nautilus itself reports a modify of an unknown order
        quantity = int(command.quantity) if command.quantity is not None else int(order.quantity)
        leaves = quantity - int(order.filled_qty)
        if leaves <= 0:
            return None  # nothing left to fill: a modify down to the filled quantity trades nothing
        price = command.price.as_double() if command.price is not None else None
        reason, intent = self._decide(order, leaves, price, replaces_package=True)
        if reason is None:
            assert intent is not None, "an allowed order has its intent"  # _decide: None only with a reason
            self.exposure.approve(order.client_order_id.value, intent.kind)
            self._track_pending(order, intent)
        return reason

    def _decide(
        self, order: Order, quantity: int, price: float | None, replaces_package: bool = False
    ) -> tuple[str | None, Intent | None]:
        cid = order.client_order_id.value
        try:
            intent = self._intent(order, quantity, price)
        except UnknownInstrument as exc:
            return f"{ReasonCode.UNKNOWN_INSTRUMENT.value}: {exc}", None
        except MalformedTag as exc:
            return f"{ReasonCode.MALFORMED_ORDER.value}: {exc}", None
        snapshot = self.exposure.snapshot()
        self.foreign.refresh_marks()
        own = replaces_package or self._own_pending_entry(intent, cid)
        without = (intent.strategy_id, intent.package_id) if own else None
        working = self.exposure.working_without(cid)
        state = self.book.state(intent.ts_ns, snapshot.account, snapshot.strategies, working, without)
        if state.kill_switch and not self._kill_seen:
            self.cancel_working_entries(intent.ts_ns)  # engaged from outside this process (the CLI, the API)
            working = self.exposure.working_without(cid)
            state = self.book.state(intent.ts_ns, snapshot.account, snapshot.strategies, working, without)
        self._kill_seen = state.kill_switch
        decision = self.book.check(intent, state, source="gate")
        if not decision.allowed:
            return denial_reason(decision), intent
        if decision.size < intent.quantity:
            return f"{decision.code.value}: allowed {decision.size} of {intent.quantity}: {decision.reason}", intent
        return None, intent

    def _own_pending_entry(self, intent: Intent, cid: str) -> bool:
        """Is the package this entry is for pending only because of this very order?

        A strategy that keeps its own ledger tracks its package as PENDING_ENTRY when it submits the entry.
        In a backtest the order meets the gate before that; on a live node Nautilus's engines queue the
        command, so the gate meets the package first. That package *is* this order: it is judged without
        it, as in the backtest. Any other order for the same package still meets it (``NOT_FLAT``).
        """
        key = (intent.strategy_id, intent.package_id)
        view = self.book.packages.get(key)
        pending = view is not None and view.state is PackageState.PENDING_ENTRY
        return intent.is_entry and pending and self._entry_of.get(key, cid) == cid

    def _intent(self, order: Order, quantity: int, price: float | None) -> Intent:
        legs = self.exposure.traded_legs(order.instrument_id, order.side)
        snapshot = self.exposure.snapshot()
        sid, cid = order.strategy_id.value, order.client_order_id.value
        changes: dict[str, int] = {}
        for leg in legs:
            iid = leg.contract.instrument_id
            changes[iid] = changes.get(iid, 0) + leg.ratio * quantity
        own = [w for w in snapshot.working if w.strategy_id == sid and w.order_id != cid]
        kind = derive_kind(changes.items(), snapshot.strategies.get(sid, {}), own)
        now = self._clock.timestamp_ns()
        return order_intent(order, legs, quantity, signed_price(order, self._cache, price), kind, now)

    # -- what an allowed order leaves behind ----------------------------------------------------------

    def _record(self, order: Order, intent: Intent) -> None:
        cid = order.client_order_id.value
        self.exposure.approve(cid, intent.kind)
        if not intent.is_entry:
            return
        self._entry_of.setdefault((intent.strategy_id, intent.package_id), cid)
        self._track_pending(order, intent)
        if cid not in self._counted:
            self._counted.add(cid)
            self.book.record_entry(intent)
            if intent.strategy_id not in self.self_reporting:
                self.foreign.opened(intent)

    def _track_pending(self, order: Order, intent: Intent) -> None:
        """An allowed entry is a live package at once: the next order already counts it (its base strategy,
        if it keeps its own ledger, replaces this picture with its own under the same key)."""
        if not intent.is_entry:
            return
        key = (intent.strategy_id, intent.package_id)
        known = self.book.packages.get(key)
        if known is not None and known.state is not PackageState.PENDING_ENTRY:
            return
        self.book.track([_pending_view(intent)])

    def _forget(self, order: Order, intent: Intent) -> None:
        self.exposure.forget(order.client_order_id.value)
        key = (intent.strategy_id, intent.package_id)
        if self._entry_of.get(key) == order.client_order_id.value:
            del self._entry_of[key]
        if intent.is_entry:
            self.book.track([replace(_pending_view(intent), state=PackageState.FLAT)])
            self.foreign.forget(intent)

    # -- the kill switch ------------------------------------------------------------------------------

    def cancel_working_entries(self, now_ns: int) -> None:
        """FIA kill-switch practice: an entry left working could fill after the stop, so cancel it."""
        self._kill_seen = True
        for working in self.exposure.snapshot().working:
            if working.kind is IntentKind.ENTRY:
                self.cancel_order(working.order_id, now_ns)

    def strategies(self) -> dict:
        """The strategies running on this node, by id (the node's duties act through them)."""
        return {s.id.value: s for s in self._kernel.trader.strategies()}

    def cancel_order(self, order_id: str, now_ns: int) -> None:
        """Cancel a working order of any strategy: through the strategy when it runs on this node (so its
        emulated orders reach the emulator), else straight to the execution engine."""
        order = self._cache.order(client_order_id(order_id))
        if order is None or order.is_closed or order.is_pending_cancel:
            return
        strategy = self.strategies().get(order.strategy_id.value)
        if strategy is not None:
            strategy.cancel_order(order)
            return
        self._forward[EXEC_ENDPOINT](cancel_command(order, now_ns))


def _pending_view(intent: Intent) -> PackageView:
    return PackageView(
        package_id=intent.package_id,
        strategy_id=intent.strategy_id,
        symbol=intent.symbol,
        state=PackageState.PENDING_ENTRY,
        legs=intent.legs,
        quantity=intent.quantity,
        open_risk=intent.open_risk,
    )
