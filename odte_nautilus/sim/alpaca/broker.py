"""The simulated broker: accepts, fills, replaces, cancels and expires orders; keeps positions and cash.

Every change happens on the server's event loop, one call at a time, and every change a client could see
is also sent on ``trade_updates`` through ``emit``. What Alpaca sends for an order is followed:
``new`` once accepted, ``replaced`` (the old order) then ``new`` (its replacement), ``canceled``,
``expired`` at the close, ``rejected``. A fill is reported per execution: for an mleg order, first one
``fill``/``partial_fill`` per leg (the leg's own order object, its own execution id, price, contracts and the
position after it), then one for the parent (the whole order with its legs, the net price per package and
the packages filled). A single-leg order gets the one event.

A marketable order fills while its submit is answered, so its ``new`` and fills may reach the client before
the HTTP answer does, as they can on Alpaca: a client must accept updates for an order it has not yet heard
acknowledged. A client order id is unique for the account's lifetime, so a client that retries a submit
with the same id gets 422 and never a second order. Faults that concern orders (rejections, partial fills)
are read from the shared ``Faults`` at the moment they apply, so a test can change them while it runs.

At the session close the day's open orders expire and the 0DTE options expire: in the money settled for
their intrinsic value in cash against the underlying's last close, out of the money removed. A real SPY
exercise delivers shares (and Alpaca liquidates expiring positions from about 15:15 ET); the simulator keeps
it to cash so the account ends flat in options and the P&L is exact.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal

from odte_nautilus.risk.model import OptionRight
from odte_nautilus.sim.alpaca import entry
from odte_nautilus.sim.alpaca.faults import Faults
from odte_nautilus.sim.alpaca.model import (
    MULTIPLIER,
    BrokerState,
    LegState,
    OrderState,
    PositionState,
    leg_wire,
    order_wire,
    position_wire,
)
from odte_nautilus.sim.alpaca.wire import FORBIDDEN, MALFORMED, NOT_FOUND, UNPROCESSABLE, ApiError, iso, text
from odte_nautilus.sim.fills import Touch, far_touch, marketable, packages_to_fill
from odte_nautilus.sim.replay import Market

Emit = Callable[[dict], None]


def _uuid() -> str:
    return str(uuid.uuid4())


class Broker:
    def __init__(self, state: BrokerState, market: Market, faults: Faults, now: Callable[[], int], emit: Emit) -> None:
        self.state = state
        self._market = market
        self._faults = faults
        self._now = now
        self._emit = emit
        self._by_client_id: dict[str, tuple[str, LegState | None]] = {}
        self._by_leg_id: dict[str, tuple[str, LegState]] = {}
        for order in state.orders.values():
            self._index(order)

    # -- orders -------------------------------------------------------------------------------------------

    def submit(self, body: object) -> dict:
        """``POST /v2/orders``: the order as accepted; its ``new`` and any fills follow on the stream."""
        ticket = entry.new_order(body, self._market.contracts)
        if ticket.client_order_id in self._by_client_id:
            raise ApiError(UNPROCESSABLE, "client_order_id must be unique")
        if self._now() >= self._market.session.close_ns:
            raise ApiError(UNPROCESSABLE, "the options market is closed for the day")
        if self._faults.reject_next > 0 and not self._faults.reject_on_stream:
            self._faults.reject_next -= 1
            raise ApiError(FORBIDDEN, self._faults.reject_reason)
        order = self._create(ticket)
        accepted = order_wire(order)
        if self._faults.reject_next > 0:
            self._faults.reject_next -= 1
            self._close(order, "rejected", "failed_at")
        else:
            self._set_status(order, "new")
            self._try_fill(order)
        return accepted

    def order(self, order_id: str) -> dict:
        """``GET /v2/orders/{id}``: a parent, a single-leg order, or one leg of an mleg order."""
        if order_id in self.state.orders:
            return order_wire(self.state.orders[order_id])
        if order_id in self._by_leg_id:
            parent, leg = self._by_leg_id[order_id]
            return leg_wire(self.state.orders[parent], leg)
        raise ApiError(NOT_FOUND, "order not found")

    def order_by_client_id(self, client_order_id: str) -> dict:
        found = self._by_client_id.get(client_order_id)
        if found is None:
            raise ApiError(NOT_FOUND, "order not found")
        parent, leg = found
        order = self.state.orders[parent]
        return order_wire(order) if leg is None else leg_wire(order, leg)

    def orders(
        self,
        status: str = "open",
        limit: int = 50,
        direction: str = "desc",
        symbols: list[str] | None = None,
        after: str | None = None,
        until: str | None = None,
    ) -> list[dict]:
        """``GET /v2/orders``: by status (open, closed, all), newest first unless ``direction=asc``; an mleg
        order matches ``symbols`` through any of its legs; ``after``/``until`` bound the submit time."""
        low, high = _ns(after) if after else None, _ns(until) if until else None
        chosen = []
        for order in self.state.orders.values():
            if status != "all" and order.is_open != (status == "open"):
                continue
            if symbols and not {leg.symbol for leg in order.legs} & set(symbols):
                continue
            if (low is not None and order.submitted_at <= low) or (high is not None and order.submitted_at > high):
                continue
            chosen.append(order)
        chosen.sort(key=lambda o: o.submitted_at, reverse=direction != "asc")
        return [order_wire(o) for o in chosen[:limit]]

    def replace(self, order_id: str, body: object) -> dict:
        """``PATCH /v2/orders/{id}``: a new order replaces an open one (same legs, new qty and/or limit); the
        answer is the new order as accepted, its ``new`` (after the old one's ``replaced``) and fills follow."""
        old = self._parent(order_id, "replace")
        change = entry.replacement(body)
        if not old.is_open:
            raise ApiError(UNPROCESSABLE, f"order is not replaceable (status {old.status})")
        if old.filled_qty:
            raise ApiError(UNPROCESSABLE, "a partially filled order cannot be replaced: cancel it instead")
        if change.client_order_id in self._by_client_id:
            raise ApiError(UNPROCESSABLE, "client_order_id must be unique")
        limit = old.limit_price if change.limit_price is None else change.limit_price
        if old.type == "limit" and not old.mleg and limit is not None and limit <= 0:
            raise ApiError(UNPROCESSABLE, "limit_price must be positive for a single-leg order")
        legs = tuple(entry.LegTicket(leg.symbol, leg.side, leg.ratio, leg.position_intent) for leg in old.legs)
        ticket = entry.Ticket(
            old.order_class,
            old.type,
            change.qty or old.qty,
            limit if old.type == "limit" else None,
            legs,
            change.client_order_id,
        )
        new = self._create(ticket, replaces=old.id)
        accepted = order_wire(new)
        old.replaced_by = new.id
        self._close(old, "replaced", "replaced_at")
        self._set_status(new, "new")
        self._try_fill(new)
        return accepted

    def cancel(self, order_id: str) -> None:
        """``DELETE /v2/orders/{id}``: 204 when canceled, 422 when it is no longer open."""
        order = self._parent(order_id, "cancel")
        if not order.is_open:
            raise ApiError(UNPROCESSABLE, f"order is not cancelable (status {order.status})")
        self._close(order, "canceled", "canceled_at")

    def cancel_all(self) -> list[dict]:
        """``DELETE /v2/orders``: one 200 per open order canceled."""
        result = []
        for order in [o for o in self.state.orders.values() if o.is_open]:
            self._close(order, "canceled", "canceled_at")
            result.append({"id": order.id, "status": 200, "body": None})
        return result

    # -- positions ------------------------------------------------------------------------------------------

    def positions(self) -> list[dict]:
        latest = self._market.latest
        return [position_wire(p, latest.get(s)) for s, p in sorted(self.state.positions.items())]

    def position(self, symbol: str) -> dict:
        held = self.state.positions.get(symbol)
        if held is None:
            raise ApiError(NOT_FOUND, "position does not exist")
        return position_wire(held, self._market.latest.get(symbol))

    def close_position(self, symbol: str, qty: object = None) -> dict:
        """``DELETE /v2/positions/{symbol}``: a market order against the position (all of it by default)."""
        held = self.state.positions.get(symbol)
        if held is None:
            raise ApiError(NOT_FOUND, "position does not exist")
        size = abs(held.qty) if qty is None else entry.whole(qty, "qty")
        if size > abs(held.qty):
            message = f"insufficient qty available for order (requested: {size}, available: {abs(held.qty)})"
            raise ApiError(FORBIDDEN, message)
        side, intent = ("sell", "sell_to_close") if held.qty > 0 else ("buy", "buy_to_close")
        body = {"symbol": symbol, "side": side, "position_intent": intent, "qty": size, "type": "market"}
        return self.submit({**body, "time_in_force": "day"})

    def close_all(self, cancel_orders: bool) -> list[dict]:
        """``DELETE /v2/positions``: one market order per position (never an mleg), 207 per item."""
        if cancel_orders:
            self.cancel_all()
        result = []
        for symbol in sorted(self.state.positions):
            try:
                order = self.close_position(symbol)
                result.append({"symbol": symbol, "status": 200, "order_id": order["id"], "body": order})
            except ApiError as error:
                result.append({"symbol": symbol, "status": error.status, "body": {**error.body(), "symbol": symbol}})
        return result

    def account(self) -> dict:
        """``GET /v2/account``: positions marked at mid; no margin model (buying power is the cash)."""
        cash = self.state.cash
        values = [Decimal(p["market_value"]) for p in self.positions()]
        longs = sum((v for v in values if v > 0), Decimal(0))
        shorts = sum((v for v in values if v < 0), Decimal(0))
        equity = cash + longs + shorts
        return {
            "id": self.state.account_id,
            "account_number": self.state.account_number,
            "status": "ACTIVE",
            "crypto_status": "INACTIVE",
            "currency": "USD",
            "cash": str(cash),
            "equity": str(equity),
            "last_equity": str(equity),
            "portfolio_value": str(equity),
            "buying_power": str(cash),
            "regt_buying_power": str(cash),
            "non_marginable_buying_power": str(cash),
            "options_buying_power": str(cash),
            "long_market_value": str(longs),
            "short_market_value": str(shorts),
            "initial_margin": "0",
            "maintenance_margin": "0",
            "multiplier": "1",
            "options_approved_level": 3,
            "options_trading_level": 3,
            "pattern_day_trader": False,
            "trading_blocked": False,
            "transfers_blocked": False,
            "account_blocked": False,
            "trade_suspended_by_user": False,
            "shorting_enabled": False,
            "accrued_fees": "0",
            "created_at": "2024-01-02T14:30:00Z",
        }

    # -- the market moves ---------------------------------------------------------------------------------

    def on_quotes(self) -> None:
        """Re-check every resting order against the latest quotes (an order filled this instant waits)."""
        now = self._now()
        for order in [o for o in self.state.orders.values() if o.is_open and o.last_fill_at != now]:
            self._try_fill(order)

    def expire(self, underlying_close: Decimal | None) -> None:
        """The session closed: open orders expire, options settle in the money (cash) or vanish."""
        for order in [o for o in self.state.orders.values() if o.is_open]:
            self._close(order, "expired", "expired_at")
        for symbol, held in list(self.state.positions.items()):
            contract = self._market.contracts[symbol]
            if underlying_close is not None:
                sign = 1 if contract.right is OptionRight.CALL else -1
                intrinsic = max(Decimal(0), sign * (underlying_close - contract.strike))
                self.state.cash += intrinsic * held.qty * MULTIPLIER
            del self.state.positions[symbol]

    # -- internals ----------------------------------------------------------------------------------------

    def _parent(self, order_id: str, action: str) -> OrderState:
        if order_id in self._by_leg_id:
            raise ApiError(UNPROCESSABLE, f"cannot {action} individual legs of a mleg order")
        order = self.state.orders.get(order_id)
        if order is None:
            raise ApiError(NOT_FOUND, "order not found")
        return order

    def _create(self, ticket: entry.Ticket, replaces: str | None = None) -> OrderState:
        order_id = _uuid()
        mleg = ticket.order_class == "mleg"
        legs = [
            LegState(_uuid() if mleg else order_id, _uuid(), t.symbol, t.side, t.ratio, t.position_intent)
            for t in ticket.legs
        ]
        order = OrderState(
            id=order_id,
            client_order_id=ticket.client_order_id or _uuid(),
            order_class=ticket.order_class,
            type=ticket.type,
            qty=ticket.qty,
            limit_price=ticket.limit_price,
            net_limit=ticket.net_limit,
            legs=legs,
            submitted_at=self._now(),
            replaces=replaces,
        )
        self.state.orders[order.id] = order
        self._index(order)
        return order

    def _index(self, order: OrderState) -> None:
        self._by_client_id[order.client_order_id] = (order.id, None)
        if order.mleg:
            for leg in order.legs:
                self._by_client_id[leg.client_order_id] = (order.id, leg)
                self._by_leg_id[leg.id] = (order.id, leg)

    def _set_status(self, order: OrderState, status: str) -> None:
        order.status, order.updated_at = status, self._now()
        self._event(status, order_wire(order))

    def _close(self, order: OrderState, status: str, stamp: str) -> None:
        setattr(order, stamp, self._now())
        self._set_status(order, status)

    def _try_fill(self, order: OrderState) -> None:
        legs = [(leg.symbol, leg.signed_ratio) for leg in order.legs]
        touch = far_touch(legs, self._market.latest)
        if touch is None or not marketable(touch, order.net_limit):
            return
        self._execute(order, touch, packages_to_fill(order.qty, order.filled_qty, self._faults.partial_fill))

    def _execute(self, order: OrderState, touch: Touch, packages: int) -> None:
        now = self._now()
        order.filled_qty += packages
        order.filled_net += touch.net * packages
        order.last_fill_at = order.updated_at = now
        done = order.filled_qty == order.qty
        if done:
            order.status, order.filled_at = "filled", now
        else:
            order.status = "partially_filled"
        event = "fill" if done else "partial_fill"
        for leg, price in zip(order.legs, touch.leg_prices, strict=True):
            contracts = packages * leg.ratio
            leg.filled_qty += contracts
            leg.filled_value += price * contracts
            leg.filled_at = now if done else None
            held = self.state.positions.setdefault(leg.symbol, PositionState(leg.symbol, 0, Decimal(0)))
            signed = contracts if leg.side == "buy" else -contracts
            held.add(signed, price)
            self.state.cash -= price * signed * MULTIPLIER
            if held.qty == 0:
                del self.state.positions[leg.symbol]
            wire = leg_wire(order, leg) if order.mleg else order_wire(order)
            self._event(event, wire, price=price, qty=contracts, position_qty=held.qty)
        if order.mleg:
            self._event(event, order_wire(order), price=touch.net, qty=packages)

    def _event(self, event: str, order: dict, price: Decimal | None = None, **execution: int | None) -> None:
        """A trade update; a fill's carries its execution id, price, contracts (``qty``) and ``position_qty``."""
        data: dict = {"event": event, "order": order, "timestamp": iso(self._now())}
        if price is not None:
            data |= {"execution_id": _uuid(), "price": text(price), **{k: text(v) for k, v in execution.items()}}
        self._emit({"stream": "trade_updates", "data": data})


def _ns(value: str) -> int:
    """An ``after``/``until`` filter (RFC 3339) in nanoseconds."""
    try:
        stamp = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ApiError(MALFORMED, f"{value!r} is not an RFC 3339 time") from None
    return int(stamp.timestamp() * 1_000_000) * 1000
