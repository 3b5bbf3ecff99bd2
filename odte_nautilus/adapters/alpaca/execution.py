"""The Alpaca execution client: a package is one ``mleg`` order, its fills come back as the backtest's.

Orders go out over REST (``http.AlpacaRest``: rate limited, off the loop, retried with the same client order
id). What happens to them comes back on ``trade_updates`` and, as a safety net for updates lost with a
dropped socket, from a REST read of the working orders every ``poll_interval_secs``. Both feed one path.

What the broker says is turned into Nautilus events by ``tracking.OrderTracker``: a package's fill as the
backtester books it, the package first, then its legs under ``<parent>-LEG-<leg symbol>``.

Reconciliation (Nautilus's startup and periodic checks) must never book a spread fill without its legs: for
an order this client follows, a status report mirrors what the node already holds, and the broker's news
is booked through the path above. ``None`` ("not at the broker") is returned only on Alpaca's 404; when the
broker does not answer, the report says what the node last knew, since Nautilus rejects an order on None.

Every order line is logged with ``[PAPER]``: the client order id, the broker's id once known, each fill with
its execution id, and rejection reasons.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from alpaca.common.enums import Sort
from alpaca.common.exceptions import APIError
from alpaca.trading.enums import QueryOrderStatus
from alpaca.trading.requests import GetOrdersRequest
from alpaca.trading.stream import TradingStream
from nautilus_trader.cache.cache import Cache
from nautilus_trader.common.component import LiveClock, MessageBus
from nautilus_trader.core.uuid import UUID4
from nautilus_trader.execution.messages import (
    CancelAllOrders,
    CancelOrder,
    GenerateFillReports,
    GenerateOrderStatusReport,
    GenerateOrderStatusReports,
    GeneratePositionStatusReports,
    ModifyOrder,
    SubmitOrder,
    SubmitOrderList,
)
from nautilus_trader.execution.reports import FillReport, OrderStatusReport, PositionStatusReport
from nautilus_trader.live.execution_client import LiveExecutionClient
from nautilus_trader.model.currencies import USD
from nautilus_trader.model.enums import AccountType, OmsType, OrderSide, OrderStatus
from nautilus_trader.model.identifiers import (
    AccountId,
    ClientId,
    ClientOrderId,
    InstrumentId,
    VenueOrderId,
    generic_spread_id_to_list,
    is_generic_spread_id,
)
from nautilus_trader.model.objects import AccountBalance, Money
from nautilus_trader.model.orders import Order

from odte_nautilus.adapters.alpaca.config import AlpacaConfigError, AlpacaExecClientConfig
from odte_nautilus.adapters.alpaca.http import AlpacaRest, BrokerUnavailable, failure_reason
from odte_nautilus.adapters.alpaca.parsing import (
    OPEN_STATUSES,
    UnsupportedOrder,
    decimal,
    is_mleg,
    negated,
    order_request,
    order_status_report,
    position_status_report,
    replace_request,
    traded_spread,
)
from odte_nautilus.adapters.alpaca.providers import AlpacaInstrumentProvider
from odte_nautilus.adapters.alpaca.streams import stop_stream
from odte_nautilus.adapters.alpaca.symbols import ALPACA, ALPACA_VENUE, instrument_id
from odte_nautilus.adapters.alpaca.tracking import OrderTracker, Tracked
from odte_nautilus.fees import fee_schedule
from odte_nautilus.orders import cancel_command

REFRESH_DELAY_SECS = 1.0  # a package update normally follows its legs' within milliseconds
ORDERS_PAGE = 500


class AlpacaExecutionClient(LiveExecutionClient):
    """Alpaca paper trading for option packages (see the module docstring)."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        rest: AlpacaRest,
        msgbus: MessageBus,
        cache: Cache,
        clock: LiveClock,
        instrument_provider: AlpacaInstrumentProvider,
        config: AlpacaExecClientConfig,
        name: str | None = None,
    ) -> None:
        super().__init__(
            loop=loop,
            client_id=ClientId(name or ALPACA),
            venue=ALPACA_VENUE,
            oms_type=OmsType.NETTING,
            account_type=AccountType.MARGIN,
            base_currency=USD,
            instrument_provider=instrument_provider,
            msgbus=msgbus,
            cache=cache,
            clock=clock,
            config=config,
        )
        self._rest = rest
        self._config = config
        fee = Decimal(str(fee_schedule(config.fee_schedule).per_contract))
        self._stream: TradingStream | None = None
        self._tasks_running: list[asyncio.Task] = []
        self._refreshing: set[str] = set()
        self._orders = OrderTracker(self, cache, clock, self._log, fee, self._refresh_later)

    # -- connection ----------------------------------------------------------------------------------------

    async def _connect(self) -> None:
        account = await self._rest.call(self._rest.client.get_account)
        number = str(account.get("account_number", ""))
        if not number.startswith("PA") or (self._config.account_id and number != self._config.account_id):
            raise AlpacaConfigError(
                f"account {number!r} is not the paper account configured ({self._config.account_id or 'PA…'})"
            )
        self._set_account_id(AccountId(f"{ALPACA}-{number}"))
        self._report_account(account)
        await self._instrument_provider.initialize()
        for instrument in self._instrument_provider.list_all():
            self._cache.add_instrument(instrument)
        self._stream = TradingStream(
            self._config.api_key,
            self._config.api_secret,
            paper=True,
            raw_data=True,
            url_override=self._config.trade_stream_url,  # type: ignore[arg-type]  # None: the paper host
        )
        self._stream.subscribe_trade_updates(self._on_trade_update)
        self._tasks_running = [
            self._loop.create_task(self._stream._run_forever(), name="alpaca-trade-updates"),
            self._loop.create_task(self._poll_forever(), name="alpaca-order-poll"),
        ]
        self._log.info(f"[PAPER] connected to Alpaca paper account {number}")

    async def _disconnect(self) -> None:
        stream_task, poll_task = self._tasks_running or (None, None)
        self._tasks_running = []
        if poll_task is not None:
            poll_task.cancel()
            await asyncio.gather(poll_task, return_exceptions=True)
        if self._stream is not None and stream_task is not None:
            await stop_stream(self._stream, stream_task)

    def _report_account(self, account: dict[str, Any]) -> None:
        equity = Decimal(str(account.get("equity") or account.get("cash") or 0))
        free = min(equity, max(Decimal(0), Decimal(str(account.get("options_buying_power") or equity))))
        self.generate_account_state(
            balances=[AccountBalance(Money(equity, USD), Money(equity - free, USD), Money(free, USD))],
            margins=[],
            reported=True,
            ts_event=self._clock.timestamp_ns(),
        )

    # -- commands ------------------------------------------------------------------------------------------

    async def _submit_order(self, command: SubmitOrder) -> None:
        await self._submit(command.order)

    async def _submit_order_list(self, command: SubmitOrderList) -> None:
        for order in command.order_list.orders:
            await self._submit(order)

    async def _submit(self, order: Order) -> None:
        if order.is_closed:
            return
        cid = order.client_order_id
        price = order.price.as_double() if order.has_price else None
        try:
            request = order_request(
                order.instrument_id,
                order.side,
                order.order_type,
                int(order.quantity),
                price,
                order.time_in_force,
                cid.value,
                self._held(order.instrument_id),
            )
        except UnsupportedOrder as exc:
            self.generate_order_submitted(order.strategy_id, order.instrument_id, cid, self._clock.timestamp_ns())
            self._orders.reject(order, str(exc))
            return
        tracked = self._orders.track(order)
        self.generate_order_submitted(order.strategy_id, order.instrument_id, cid, self._clock.timestamp_ns())
        limit = getattr(request, "limit_price", None)
        net = f" (mleg net {limit})" if is_generic_spread_id(order.instrument_id) and limit is not None else ""
        what = f"{order.side_string()} {order.quantity} {order.instrument_id} @ {price}{net}"
        self._log.info(f"[PAPER] submit {cid} {what} paper=true")
        tracked.in_flight = True
        try:
            wire = await self._rest.call(self._rest.client.submit_order, request)
        except (APIError, BrokerUnavailable) as exc:
            # A retry after a lost answer meets "client_order_id must be unique" (422), and an unanswered
            # submit may have landed: the broker's record under our client order id decides, never a guess.
            reason = failure_reason(exc) if isinstance(exc, APIError) else f"not placed: {exc}"
            await self._settle_submit(tracked, order, reason, unanswered=isinstance(exc, BrokerUnavailable))
            return
        finally:
            tracked.in_flight = False
        self._orders.apply_wire(tracked, wire, "accepted")

    async def _settle_submit(self, tracked: Tracked, order: Order, reason: str, unanswered: bool) -> None:
        """A submit that failed: accepted after all if the broker holds our client order id, rejected only
        when it says it has none (twice, a moment apart, for a request that may still be in flight)."""
        for attempt in range(2 if unanswered else 1):
            if attempt:
                await asyncio.sleep(REFRESH_DELAY_SECS)
            try:
                wire = await self._lookup(tracked.client_order_id)
            except (APIError, BrokerUnavailable) as exc:
                tracked.unknown = True
                self._log.warning(f"[PAPER] submit {tracked.client_order_id}: outcome unknown ({exc}); polling it")
                return
            if wire is not None:
                self._orders.apply_wire(tracked, wire, "accepted")
                return
        tracked.done = True
        self._orders.reject(order, reason)

    async def _lookup(self, cid: ClientOrderId) -> dict | None:
        """The broker's order under ``cid``; None only when the broker says it has none (404)."""
        try:
            return await self._rest.call(self._rest.client.get_order_by_client_id, cid.value)
        except APIError as exc:
            if exc.status_code == 404:
                return None
            raise

    async def _modify_order(self, command: ModifyOrder) -> None:
        tracked = self._orders.orders.get(command.client_order_id)
        order = self._cache.order(command.client_order_id)
        if tracked is None or tracked.venue_order_id is None or order is None:
            self._modify_rejected(command, "the order is not acknowledged by the broker yet")
            return
        quantity = int(command.quantity) if command.quantity is not None else None
        price = command.price.as_double() if command.price is not None else None
        request = replace_request(order.side, bool(tracked.legs), quantity, price)
        self._log.info(f"[PAPER] replace {tracked.client_order_id} broker_order_id={tracked.venue_order_id} paper=true")
        try:
            wire = await self._rest.call(self._rest.client.replace_order_by_id, tracked.venue_order_id, request)
        except (APIError, BrokerUnavailable) as exc:
            reason = failure_reason(exc)
            self._modify_rejected(command, reason)
            return
        self._orders.apply_wire(tracked, wire, "new")

    def _modify_rejected(self, command: ModifyOrder, reason: str) -> None:
        self._log.warning(f"[PAPER] replace rejected {command.client_order_id}: {reason}")
        self.generate_order_modify_rejected(
            command.strategy_id,
            command.instrument_id,
            command.client_order_id,
            command.venue_order_id,
            reason,
            self._clock.timestamp_ns(),
        )

    async def _cancel_order(self, command: CancelOrder) -> None:
        tracked = self._orders.orders.get(command.client_order_id)
        broker_id = tracked.venue_order_id if tracked is not None else None
        if broker_id is None and command.venue_order_id is not None:
            broker_id = command.venue_order_id.value
        if broker_id is None:
            try:
                wire = await self._lookup(command.client_order_id)
            except (APIError, BrokerUnavailable):
                wire = None
            broker_id = None if wire is None else wire["id"]
        if broker_id is None:
            self._cancel_rejected(command, "the broker has no such order (yet)")
            return
        self._log.info(f"[PAPER] cancel {command.client_order_id} broker_order_id={broker_id} paper=true")
        try:
            await self._rest.call(self._rest.client.cancel_order_by_id, broker_id)
        except (APIError, BrokerUnavailable) as exc:
            # 422: no longer cancelable - it filled or closed; the broker's record says which.
            reason = failure_reason(exc)
            if tracked is not None:
                await self._refresh(tracked.client_order_id, broker_id)
            order = self._cache.order(command.client_order_id)
            if order is not None and order.is_open:
                self._cancel_rejected(command, reason)
            return
        if tracked is not None:  # the ``canceled`` update confirms it; a lost one is found by the poll
            self._refresh_later(tracked.client_order_id, broker_id, lambda: not tracked.done)

    def _cancel_rejected(self, command: CancelOrder, reason: str) -> None:
        self._log.warning(f"[PAPER] cancel rejected {command.client_order_id}: {reason}")
        self.generate_order_cancel_rejected(
            command.strategy_id,
            command.instrument_id,
            command.client_order_id,
            command.venue_order_id,
            reason,
            self._clock.timestamp_ns(),
        )

    async def _cancel_all_orders(self, command: CancelAllOrders) -> None:
        """One cancel per open order of the instrument: Alpaca's cancel-all would take every strategy's."""
        for order in self._cache.orders_open(venue=ALPACA_VENUE, instrument_id=command.instrument_id):
            if command.order_side in (OrderSide.NO_ORDER_SIDE, order.side):
                await self._cancel_order(cancel_command(order, self._clock.timestamp_ns()))

    def _held(self, instrument: InstrumentId) -> dict[InstrumentId, int]:
        """The account's net position per option the order trades (Alpaca nets one account)."""
        legs = (
            [leg for leg, _ in generic_spread_id_to_list(instrument)]
            if is_generic_spread_id(instrument)
            else [instrument]
        )
        return {leg: int(sum(p.signed_qty for p in self._cache.positions_open(instrument_id=leg))) for leg in legs}

    # -- the broker's news ---------------------------------------------------------------------------------

    async def _on_trade_update(self, message: dict) -> None:
        try:
            self._orders.handle_update(message.get("data") or {})
        except Exception as exc:  # one malformed update must not stop the stream
            self._log.exception(f"[PAPER] cannot handle trade update {message}", exc)

    # -- reading back ------------------------------------------------------------------------------------

    def _refresh_later(self, cid: ClientOrderId, broker_id: str, needed: Callable[[], bool]) -> None:
        """Read the order back in a moment if what should have followed (the package's update after its
        legs', the ``canceled`` after a cancel) has not come by then."""
        if broker_id in self._refreshing:
            return
        self._refreshing.add(broker_id)

        async def later() -> None:
            await asyncio.sleep(REFRESH_DELAY_SECS)
            self._refreshing.discard(broker_id)
            if needed():
                await self._refresh(cid, broker_id)

        self.create_task(later())

    async def _refresh(self, cid: ClientOrderId, broker_id: str) -> None:
        try:
            wire = await self._rest.call(self._rest.client.get_order_by_id, broker_id)
        except (APIError, BrokerUnavailable) as exc:
            self._log.warning(f"[PAPER] cannot read {cid} broker_order_id={broker_id}: {exc}")
            return
        self._orders.apply_wire(self._orders.orders[cid], wire)

    async def _poll_forever(self) -> None:
        """Read back the working orders: what a dropped socket lost is booked within one interval."""
        while True:
            await asyncio.sleep(self._config.poll_interval_secs)
            for tracked in [t for t in self._orders.orders.values() if t.unknown and not t.done]:
                order = self._cache.order(tracked.client_order_id)
                if order is not None:
                    tracked.unknown = False
                    await self._settle_submit(tracked, order, "not placed: the broker has no such order", True)
            working = any(not t.done and t.venue_order_id is not None for t in self._orders.orders.values())
            if not working or not self._rest.bucket.headroom():
                continue
            request = GetOrdersRequest(status=QueryOrderStatus.ALL, limit=ORDERS_PAGE, nested=True, direction=Sort.DESC)
            try:
                wires = await self._rest.call(self._rest.client.get_orders, request)
            except (APIError, BrokerUnavailable) as exc:
                self._log.warning(f"[PAPER] order poll failed: {exc}")
                continue
            for wire in wires:
                followed = self._orders.resolve(wire)
                if followed is not None and not followed.done:
                    self._orders.apply_wire(followed, wire)

    # -- reports for Nautilus's reconciliation -------------------------------------------------------------

    async def generate_order_status_report(self, command: GenerateOrderStatusReport) -> OrderStatusReport | None:
        cid = command.client_order_id
        try:
            if command.venue_order_id is not None:
                wire = await self._rest.call(self._rest.client.get_order_by_id, command.venue_order_id.value)
            else:
                wire = await self._rest.call(self._rest.client.get_order_by_client_id, cid.value)
        except APIError as exc:
            tracked = self._orders.orders.get(cid)
            if exc.status_code == 404 and not (tracked is not None and (tracked.in_flight or tracked.unknown)):
                self._log.warning(f"[PAPER] {cid}: not found at Alpaca (404)")  # the broker's authoritative answer
                return None
            return self._last_known(cid, failure_reason(exc))
        except BrokerUnavailable as exc:
            return self._last_known(cid, str(exc))
        return await self._order_report(wire)

    def _last_known(self, cid: ClientOrderId | None, why: str) -> OrderStatusReport | None:
        """The broker did not answer: a report of what the node holds, never a "not found"."""
        order = None if cid is None else self._cache.order(cid)
        self._log.warning(f"[PAPER] status of {cid} unknown ({why}): reporting it as the node last knew it")
        tracked = None if cid is None else self._orders.orders.get(cid)
        if (
            tracked is not None
            and order is not None
            and order.status in (OrderStatus.INITIALIZED, OrderStatus.SUBMITTED)
        ):
            tracked.accepted = True  # Nautilus accepts it from the report; the broker's id follows as an update
        return (
            None if order is None else self._mirror(order, order.venue_order_id.value if order.venue_order_id else "")
        )

    async def generate_order_status_reports(self, command: GenerateOrderStatusReports) -> list[OrderStatusReport]:
        status = QueryOrderStatus.OPEN if command.open_only else QueryOrderStatus.ALL
        request = GetOrdersRequest(status=status, limit=ORDERS_PAGE, nested=True, after=command.start)
        wires = await self._rest.call(self._rest.client.get_orders, request)  # raises: never "nothing open"
        reports = [await self._order_report(wire) for wire in wires]
        return [r for r in reports if r is not None]

    async def _order_report(self, wire: dict) -> OrderStatusReport | None:
        """A followed order: its news booked through the path above, the report mirroring the node's order
        (so reconciliation infers no spread fill without legs). Another order (a restart): the broker's
        record, its working part only; what it filled is in the positions (position reports)."""
        tracked = self._orders.resolve(wire)
        order = None if tracked is None else self._cache.order(tracked.client_order_id)
        if tracked is not None and order is not None:
            if order.status in (OrderStatus.INITIALIZED, OrderStatus.SUBMITTED):
                tracked.accepted = True  # Nautilus accepts it from this report, under this broker id
                tracked.venue_order_id = tracked.venue_order_id or wire["id"]
            self._orders.apply_wire(tracked, wire)
            return self._mirror(order, wire["id"])
        if wire.get("status") not in OPEN_STATUSES:
            return None
        instrument, side = self._as_known(wire)
        await self._ensure_instrument(instrument)  # Nautilus skips a report on an instrument it does not hold
        leaves = Decimal(str(wire["qty"])) - (decimal(wire.get("filled_qty")) or Decimal(0))
        working = {**wire, "qty": str(leaves), "filled_qty": "0", "filled_avg_price": None}
        cid = ClientOrderId(wire["client_order_id"]) if wire.get("client_order_id") else None
        return order_status_report(working, self.account_id, instrument, side, cid, 2, self._clock.timestamp_ns())

    def _as_known(self, wire: dict) -> tuple[InstrumentId, OrderSide]:
        """An order the node does not hold, as an instrument and a side: a package as the spread in the cache
        (either way round: selling a spread is buying its negation), else as the spread it buys."""
        if not is_mleg(wire):
            return instrument_id(wire["symbol"]), OrderSide.BUY if wire["side"] == "buy" else OrderSide.SELL
        spread = traded_spread(wire)
        if self._cache.instrument(spread) is None and self._cache.instrument(negated(spread)) is not None:
            return negated(spread), OrderSide.SELL
        return spread, OrderSide.BUY

    def _mirror(self, order: Order, broker_id: str) -> OrderStatusReport:
        early = order.status in (OrderStatus.INITIALIZED, OrderStatus.SUBMITTED, OrderStatus.ACCEPTED)
        ts = self._clock.timestamp_ns()
        return OrderStatusReport(
            account_id=self.account_id,
            instrument_id=order.instrument_id,
            client_order_id=order.client_order_id,
            venue_order_id=VenueOrderId(broker_id or order.client_order_id.value),
            order_side=order.side,
            order_type=order.order_type,
            time_in_force=order.time_in_force,
            order_status=OrderStatus.ACCEPTED if early else order.status,
            quantity=order.quantity,
            filled_qty=order.filled_qty,
            price=order.price if order.has_price else None,
            avg_px=Decimal(str(order.avg_px)) if order.filled_qty > 0 else None,
            report_id=UUID4(),
            ts_accepted=order.ts_init,
            ts_last=order.ts_last,
            ts_init=ts,
        )

    async def generate_fill_reports(self, command: GenerateFillReports) -> list[FillReport]:
        """None: Nautilus would book a report on the spread order alone, with no leg fills (so no positions
        on the legs). This client books its orders' fills itself; the positions report what filled before."""
        return []

    async def generate_position_status_reports(
        self, command: GeneratePositionStatusReports
    ) -> list[PositionStatusReport]:
        positions = await self._rest.call(self._rest.client.get_all_positions)
        ts = self._clock.timestamp_ns()
        reports = []
        for position in positions:
            report = position_status_report(position, self.account_id, ts)
            if command.instrument_id is not None and report.instrument_id != command.instrument_id:
                continue
            await self._ensure_instrument(report.instrument_id)
            reports.append(report)
        return reports

    async def _ensure_instrument(self, iid: InstrumentId) -> None:
        if self._cache.instrument(iid) is None:
            await self._instrument_provider.load_async(iid)
            instrument = self._instrument_provider.find(iid)
            if instrument is not None:
                self._cache.add_instrument(instrument)
