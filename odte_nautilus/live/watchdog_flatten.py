"""Flatten-all through ib_async, for a node that is hung or dead (issue 12).

Everything here asks the broker, never the node: the node may be blocked or gone, and its view of its
orders with it. The steps, each for a reason:

1. **Cancel every working order of the account** (``reqGlobalCancel``, which reaches the node's orders too),
   then wait until the gateway lists none. A working entry left alone could fill after the positions were
   read and reopen what the flatten closed. An order can fill while it is being cancelled (10148, the fill
   arriving after the cancel confirmation, brokers.md B4): the positions are read only after the cancels
   settled, so such a fill is closed like the rest, and the report counts it.
2. **Buy back every short leg, then sell the longs** (``watchdog_orders.close_waves``), the longs only once
   the broker shows no short left: a long is what covers a short, so this order keeps every instant covered.
   Single-leg orders, not a BAG: the watchdog sees positions per leg, not the node's packages (a package
   may be half filled, a leg orphaned), a combo fills all-or-nothing at a net price that a leg without a
   quote can keep from crossing, and a BAG cannot express "shorts first".
3. **Each leg at a marketable limit** (far touch of a snapshot, on the tick grid, one tick further per
   retry, at market when there is no quote or the priced attempts are spent). An order that did not fill
   is cancelled before the next one goes; a ``Cancelled`` status is tentative (an error 104/10148 ends an
   order ``Cancelled`` locally though it filled, B4/B7), so the executions get time to arrive, and the
   next order's size is the smaller of what the fills and the broker's position say is left: a late fill
   never makes the watchdog close twice. An order whose cancel is never confirmed stops the leg: a second
   order beside a live one could sell a long twice and leave a naked short.
4. **Verify**: the broker's positions after the waves; a round that left something (a fill that came
   late, an order of a node that woke up) is followed by another round, shorts first again.
"""

from __future__ import annotations

import asyncio
import copy
import logging
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import ib_async as ibi

from odte_nautilus.live.watchdog_orders import Action, close_action, close_waves, marketable_limit

log = logging.getLogger(__name__)

WATCHDOG_REF = "odte-watchdog"  # orderRef of every watchdog order: the broker's log tells them apart
OPTION_TYPES = frozenset({"OPT"})


@dataclass(frozen=True, slots=True)
class FlattenConfig:
    """Wall-clock waits of a flatten; the defaults suit a real gateway, tests shorten them."""

    cancel_timeout_seconds: float = 15.0  # for the working orders to go after the global cancel
    settle_seconds: float = 1.0  # after a cancel settles: late executions (10148, 104) arrive in this time
    fill_timeout_seconds: float = 5.0  # one closing order's time to fill before it is cancelled and re-priced
    quote_timeout_seconds: float = 2.0  # a snapshot that takes longer counts as no quote
    priced_attempts: int = 3  # marketable limits per leg, one tick further each; then a market order
    rounds: int = 2  # close-and-verify passes
    request_timeout_seconds: float = 10.0  # a positions, orders or executions request unanswered this long fails
    poll_seconds: float = 0.05


@dataclass
class LegClose:
    """One leg's closing: the orders sent (type, price, size, filled) and what they filled in all."""

    leg: str
    action: Action
    quantity: int
    filled: int = 0
    orders: list[str] = field(default_factory=list)
    gave_up: str = ""  # why the leg was left (an order whose cancel was never confirmed)


@dataclass
class FlattenReport:
    reason: str
    started_wall_ns: int
    working_orders: int = 0  # working orders of the account when the global cancel went out
    orders_left: int = 0  # still listed when the cancel timeout ran out
    filled_while_cancelling: dict[str, int] = field(default_factory=dict)  # leg -> signed quantity (10148)
    closes: list[LegClose] = field(default_factory=list)  # in the order the legs were sent
    remaining: dict[str, int] = field(default_factory=dict)  # the broker's positions at the end
    longs_held: bool = False  # longs left unsold because a short could not be bought back
    kill_switch: str = ""  # what became of the node's kill switch (watchdog.py)

    @property
    def flat(self) -> bool:
        return not self.remaining

    def record(self) -> dict[str, Any]:
        """The report as a journal line's fields."""
        return {
            "reason": self.reason,
            "flat": self.flat,
            "working_orders": self.working_orders,
            "orders_left": self.orders_left,
            "filled_while_cancelling": dict(self.filled_while_cancelling),
            "closes": [vars(c) for c in self.closes],
            "remaining": dict(self.remaining),
            "longs_held": self.longs_held,
            "kill_switch": self.kill_switch,
        }

    def lines(self) -> list[str]:
        out = [f"flatten: {self.reason}"]
        out.append(f"working orders cancelled: {self.working_orders} ({self.orders_left} still listed at the timeout)")
        for leg, qty in sorted(self.filled_while_cancelling.items()):
            out.append(f"filled while being cancelled: {leg} {qty:+d}")
        for c in self.closes:
            left = f"; LEFT: {c.gave_up}" if c.gave_up else ""
            out.append(f"{c.action} {c.quantity} {c.leg}: filled {c.filled} ({'; '.join(c.orders)}){left}")
        if self.longs_held:
            out.append("longs NOT sold: a short leg is still open and they cover it")
        out.append("broker flat" if self.flat else f"NOT FLAT at the broker: {self.remaining}")
        if self.kill_switch:
            out.append(f"kill switch: {self.kill_switch}")
        return out


def leg_name(contract: ibi.Contract) -> str:
    return contract.localSymbol or f"conId {contract.conId}"


def signed(position: ibi.Position) -> int:
    return round(position.position)


class Flattener:
    """One account's flatten-all on a connected ``ib_async.IB`` (the watchdog's own client id)."""

    def __init__(
        self,
        ib: ibi.IB,
        account: str,
        config: FlattenConfig = FlattenConfig(),
        wall_ns: Callable[[], int] = time.time_ns,
    ) -> None:
        self.ib = ib
        self.account = account
        self.config = config
        self._wall_ns = wall_ns
        self._positions_lock = asyncio.Lock()  # ib_async keys a positions request by name: one at a time

    async def positions(self) -> dict[int, ibi.Position]:
        """The account's open option positions by conId, asked afresh (the cache can hold a closed leg)."""
        async with self._positions_lock:
            rows = await self._ask(self.ib.reqPositionsAsync())
        return {
            p.contract.conId: p
            for p in rows
            if p.account == self.account and p.contract.secType in OPTION_TYPES and round(p.position) != 0
        }

    async def _ask[T](self, request: Awaitable[T]) -> T:
        """A request to the gateway that must answer: a gateway gone silent fails the flatten (the watchdog
        logs it and tries again) instead of hanging it."""
        return await asyncio.wait_for(request, self.config.request_timeout_seconds)

    async def flatten_all(self, reason: str) -> FlattenReport:
        report = FlattenReport(reason, self._wall_ns())
        log.warning("flatten-all of %s: %s", self.account, reason)
        await self._cancel_everything(report)
        for _ in range(self.config.rounds):
            held = await self.positions()
            if not held:
                break
            shorts, _ = close_waves({con_id: signed(p) for con_id, p in held.items()})
            await self._close_wave(shorts, held, report)
            held = await self.positions()
            still_short, longs = close_waves({con_id: signed(p) for con_id, p in held.items()})
            report.longs_held = bool(still_short and longs)
            if still_short:
                log.error("shorts still open after the buy-backs (%s): the longs stay", _legs(held, still_short))
                continue
            await self._close_wave(longs, held, report)
        report.remaining = {leg_name(p.contract): signed(p) for p in (await self.positions()).values()}
        for line in report.lines():
            (log.warning if report.flat else log.error)(line)
        return report

    # -- 1. cancel ----------------------------------------------------------------------------------

    async def _cancel_everything(self, report: FlattenReport) -> None:
        known = {f.execution.execId for f in await self._ask(self.ib.reqExecutionsAsync())}
        working = await self._working_orders()
        report.working_orders = len(working)
        self.ib.reqGlobalCancel()
        deadline = time.monotonic() + self.config.cancel_timeout_seconds
        while working and time.monotonic() < deadline:
            await asyncio.sleep(self.config.poll_seconds)
            working = await self._working_orders()
        report.orders_left = len(working)
        if working:
            timeout = self.config.cancel_timeout_seconds
            log.error("%d orders still working %.0f s after the global cancel", len(working), timeout)
        await asyncio.sleep(self.config.settle_seconds)  # a fill that won the race may still be on its way
        raced: Counter[str] = Counter()
        for fill in await self._ask(self.ib.reqExecutionsAsync()):
            e = fill.execution
            if e.execId in known or fill.contract.secType not in OPTION_TYPES or e.acctNumber != self.account:
                continue
            raced[leg_name(fill.contract)] += round(e.shares) * (1 if e.side == "BOT" else -1)
        report.filled_while_cancelling = {leg: qty for leg, qty in raced.items() if qty}

    async def _working_orders(self) -> list[ibi.Trade]:
        """Every client's working orders of the account, as the gateway lists them now."""
        trades = await self._ask(self.ib.reqAllOpenOrdersAsync())
        return [t for t in trades if t.order.account in ("", self.account)]

    # -- 2-3. close ---------------------------------------------------------------------------------

    async def _close_wave(self, legs: dict[int, int], held: dict[int, ibi.Position], report: FlattenReport) -> None:
        closes = [LegClose(leg_name(held[c].contract), close_action(q), abs(q)) for c, q in legs.items()]
        report.closes.extend(closes)
        await asyncio.gather(*(self._close_leg(held[c], close) for c, close in zip(legs, closes, strict=True)))

    async def _close_leg(self, position: ibi.Position, close: LegClose) -> None:
        contract = copy.copy(position.contract)
        contract.exchange = contract.exchange or "SMART"  # a position's contract comes without a route
        sign = 1 if signed(position) > 0 else -1
        left = close.quantity
        attempts = self.config.priced_attempts + 1
        for attempt in range(attempts):
            if attempt:
                now = (await self.positions()).get(contract.conId)
                broker_left = signed(now) * sign if now else 0
                left = min(left, broker_left)  # the smaller: neither a lagging position nor a late fill double-closes
                if left <= 0:
                    return
            price = None
            if attempt < self.config.priced_attempts:
                bid, ask = await self._quote(contract)
                price = marketable_limit(close.action, bid, ask, attempt)
            order = _closing_order(close.action, left, price, self.account)
            trade = self.ib.placeOrder(contract, order)
            filled, confirmed = await self._work(trade)
            close.filled += filled
            close.orders.append(f"{order.orderType}{f' {price:.2f}' if price else ''} x{left}: filled {filled}")
            left -= filled
            if not confirmed:
                close.gave_up = f"order {order.orderId} still working after its cancel"
                return
            if left <= 0:
                return

    async def _quote(self, contract: ibi.Contract) -> tuple[float | None, float | None]:
        try:
            tickers = await asyncio.wait_for(self.ib.reqTickersAsync(contract), self.config.quote_timeout_seconds)
        except TimeoutError:
            log.warning("no quote for %s within %.1f s", leg_name(contract), self.config.quote_timeout_seconds)
            return None, None
        return (tickers[0].bid, tickers[0].ask) if tickers else (None, None)

    async def _work(self, trade: ibi.Trade) -> tuple[int, bool]:
        """(filled, ended): wait for a fill, cancel what did not, and let late executions arrive."""
        await self._until(trade.isDone, self.config.fill_timeout_seconds)
        if not trade.isDone():
            self.ib.cancelOrder(trade.order)
            await self._until(trade.isDone, self.config.cancel_timeout_seconds)
        if trade.orderStatus.status != "Filled":
            await asyncio.sleep(self.config.settle_seconds)  # a Cancelled may be 104/10148's: fills may follow
        return round(trade.filled()), trade.isDone()

    async def _until(self, done: Callable[[], bool], seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while not done() and time.monotonic() < deadline:
            await asyncio.sleep(self.config.poll_seconds)


def _closing_order(action: Action, quantity: int, price: float | None, account: str) -> ibi.Order:
    fields = {"account": account, "orderRef": WATCHDOG_REF, "tif": "DAY"}
    if price is None:
        return ibi.MarketOrder(action, quantity, **fields)
    return ibi.LimitOrder(action, quantity, price, **fields)


def _legs(held: dict[int, ibi.Position], legs: dict[int, int]) -> str:
    return ", ".join(f"{leg_name(held[c].contract)} {q:+d}" for c, q in legs.items())
