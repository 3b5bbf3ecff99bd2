"""One client connection: the handshake, then each request answered the way TWS answers it.

A connection is ready once the client's ``startApi`` is answered with ``managedAccounts`` and ``nextValidId``
(both ib_async and Nautilus wait for the pair). Every request a client sends when it connects gets its answer
and its end marker (positions, open and completed orders, account updates and their multi form, the account
summary, executions), so neither client's start-up waits out a timeout. A second connection with a client id
already connected gets ``error 326`` and is closed, as TWS does.

Subscriptions live here, per connection: market data (``marketdata``) and the account's (``account``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from odte_nautilus.risk.time_units import NS_PER_SECOND
from odte_nautilus.sim.ib import incoming, outgoing
from odte_nautilus.sim.ib.account import AccountFeed
from odte_nautilus.sim.ib.contracts import INDEX_CONID, INDEX_TICK, OPTION_TICK
from odte_nautilus.sim.ib.marketdata import (
    BarFeed,
    QuoteTicker,
    TickByTick,
    history,
    index_tick,
    step_ticks,
)
from odte_nautilus.sim.ib.messages import In
from odte_nautilus.sim.ib.outgoing import Message
from odte_nautilus.sim.ib.wire import Fields, ProtocolError, frame, handshake_answer, read_frame, read_handshake
from odte_nautilus.sim.replay import Step

if TYPE_CHECKING:
    from odte_nautilus.sim.ib.venue import Venue

log = logging.getLogger(__name__)

NO_SECURITY = "No security definition has been found for the request"
PACING = "Max rate of messages per second has been exceeded."
HISTORY_ERROR = "Historical Market Data Service error message:"
HISTORY_PACING = f"{HISTORY_ERROR}Historical data request pacing violation"
CLIENT_ID_IN_USE = "Unable to connect as the client id is already in use. Retry with a unique client id."


@dataclass
class Subscriptions:
    quotes: dict[int, QuoteTicker] = field(default_factory=dict)
    index: set[int] = field(default_factory=set)
    tick_by_tick: dict[int, TickByTick] = field(default_factory=dict)
    bars: dict[int, BarFeed] = field(default_factory=dict)


class Connection:
    def __init__(self, venue: Venue, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.venue = venue
        self.client_id: int | None = None
        self.subs = Subscriptions()
        self.account = AccountFeed(venue, self.send)
        self._reader = reader
        self._writer = writer
        self._data_type = 1
        self._handlers: dict[int, Callable[[Fields], None]] = {
            In.REQ_MKT_DATA: self._req_mkt_data,
            In.CANCEL_MKT_DATA: self._cancel_mkt_data,
            In.PLACE_ORDER: self._place_order,
            In.CANCEL_ORDER: self._cancel_order,
            In.REQ_OPEN_ORDERS: lambda _: self._open_orders(mine=True),
            In.REQ_ALL_OPEN_ORDERS: lambda _: self._open_orders(mine=False),
            In.REQ_AUTO_OPEN_ORDERS: lambda _: None,
            In.REQ_EXECUTIONS: self._req_executions,
            In.REQ_IDS: lambda _: self.send(outgoing.next_valid_id(self.venue.broker.next_order_id)),
            In.REQ_CONTRACT_DATA: self._req_contract_data,
            In.REQ_MANAGED_ACCTS: lambda _: self.send(outgoing.managed_accounts(self.venue.accounts)),
            In.REQ_HISTORICAL_DATA: self._req_historical_data,
            In.CANCEL_HISTORICAL_DATA: self._cancel_historical_data,
            In.REQ_CURRENT_TIME: lambda _: self.send(outgoing.current_time(self.venue.now_ns() // NS_PER_SECOND)),
            In.REQ_REAL_TIME_BARS: self._req_real_time_bars,
            In.CANCEL_REAL_TIME_BARS: lambda _: None,
            In.REQ_GLOBAL_CANCEL: lambda _: self.venue.broker.global_cancel(),
            In.REQ_MARKET_DATA_TYPE: self._req_market_data_type,
            In.REQ_SEC_DEF_OPT_PARAMS: self._req_sec_def_opt_params,
            In.REQ_TICK_BY_TICK_DATA: self._req_tick_by_tick,
            In.CANCEL_TICK_BY_TICK_DATA: self._cancel_tick_by_tick,
            In.REQ_COMPLETED_ORDERS: lambda _: self.send(outgoing.completed_orders_end()),
            In.START_API: lambda _: None,
            **self.account.handlers(),
        }

    # -- the socket -----------------------------------------------------------------------------------

    async def serve(self) -> None:
        """Handshake, then requests until the client hangs up or the simulator drops it."""
        try:
            await self._handshake()
            while True:
                fields = await read_frame(self._reader)
                if fields:
                    self._dispatch(fields)
        except (asyncio.IncompleteReadError, ConnectionError) as ended:
            log.debug("client %s disconnected: %s", self.client_id, ended)
        except (ProtocolError, ValueError) as broken:  # a request the simulator cannot read: say so, hang up
            log.warning("client %s dropped: %s", self.client_id, broken)
        finally:
            self.venue.forget(self)
            self.close()

    def send(self, message: Message) -> None:
        if not self._writer.is_closing():
            self._writer.write(frame(message))

    def close(self) -> None:
        if not self._writer.is_closing():
            self._writer.close()

    async def _handshake(self) -> None:
        low, high = await read_handshake(self._reader)
        if not low <= self.venue.server_version <= high:
            raise ProtocolError(f"the client speaks versions {low}..{high}, the simulator {self.venue.server_version}")
        when = datetime.fromtimestamp(self.venue.now_ns() / NS_PER_SECOND, tz=UTC).strftime("%Y%m%d %H:%M:%S UTC")
        self._writer.write(handshake_answer(when))
        fields = await read_frame(self._reader)
        if not fields or int(fields[0]) != In.START_API:
            raise ProtocolError("the client did not start the API after the handshake")
        start = Fields(fields[1:])
        start.skip()  # version
        client_id = start.integer()
        if not self.venue.register(self, client_id):
            self.send(outgoing.error(-1, 326, CLIENT_ID_IN_USE))
            await self._writer.drain()
            raise ProtocolError(f"client id {client_id} is already connected")
        self.client_id = client_id
        self.send(outgoing.managed_accounts(self.venue.accounts))
        self.send(outgoing.next_valid_id(self.venue.broker.next_order_id))

    def _dispatch(self, fields: list[str]) -> None:
        handler = self._handlers.get(int(fields[0]))
        if handler is None:  # a client waiting for its answer would wait for ever: make it visible
            log.warning("the TWS simulator does not answer request %s (client %s)", fields[0], self.client_id)
            return
        request = Fields(fields[1:])
        handler(request)

    # -- market data ----------------------------------------------------------------------------------

    def on_step(self, step: Step) -> None:
        """A replayed step's data, to what this connection subscribed."""
        latest = self.venue.market.latest
        for message in step_ticks(step, self.subs.quotes, latest):
            self.send(message)
        for ticker in self.subs.tick_by_tick.values():
            if ticker.key in step.quotes:
                for message in ticker.ticks(latest):
                    self.send(message)
        if step.bar is not None:
            for req_id in self.subs.index:
                self.send(index_tick(req_id, step.bar))
            for feed in self.subs.bars.values():
                for message in feed.updates(step.bar):
                    self.send(message)

    def _req_mkt_data(self, fields: Fields) -> None:
        fields.skip()  # version
        req_id = fields.integer()
        spec = incoming.contract(fields)
        combo: list[tuple[str, int]] = []
        if spec.sec_type == "BAG":
            for _ in range(fields.integer()):
                con_id, ratio, action = fields.integer(), fields.integer(), fields.text()
                fields.skip()  # exchange
                leg = self.venue.chain.get(con_id)
                if leg is None or leg.sec_type != "OPT":
                    self.send(outgoing.error(req_id, 200, NO_SECURITY))
                    return
                combo.append((leg.key or "", ratio if action == "BUY" else -ratio))
        if fields.flag():
            fields.skip(3)  # delta-neutral contract
        fields.skip()  # generic ticks
        snapshot = fields.flag()
        if self.venue.faults.paced("reqMktData"):
            self.send(outgoing.error(req_id, 100, PACING))
            return
        contract = None
        if not combo:
            found = self.venue.chain.find(spec)
            if len(found) != 1:
                self.send(outgoing.error(req_id, 200, NO_SECURITY))
                return
            contract = found[0]
        self.send(outgoing.market_data_type(req_id, self._data_type))
        if contract is None or contract.sec_type == "OPT":
            ticker = QuoteTicker(req_id, combo if contract is None else [(contract.key or "", 1)])
            self.send(outgoing.tick_req_params(req_id, OPTION_TICK))
            for message in ticker.ticks(self.venue.market.latest):
                self.send(message)
            if not snapshot:
                self.subs.quotes[req_id] = ticker
        else:
            self.send(outgoing.tick_req_params(req_id, INDEX_TICK))
            bar = self.venue.market.last_bar
            if bar is not None:
                self.send(index_tick(req_id, bar))
            if not snapshot:
                self.subs.index.add(req_id)
        if snapshot:
            self.send(outgoing.tick_snapshot_end(req_id))

    def _cancel_mkt_data(self, fields: Fields) -> None:
        fields.skip()
        req_id = fields.integer()
        self.subs.quotes.pop(req_id, None)
        self.subs.index.discard(req_id)

    def _req_tick_by_tick(self, fields: Fields) -> None:
        req_id = fields.integer()
        spec = incoming.contract(fields)
        kind = fields.text()
        found = self.venue.chain.find(spec)
        if len(found) != 1 or found[0].sec_type != "OPT":
            self.send(outgoing.error(req_id, 200, NO_SECURITY))
            return
        if kind != "BidAsk":
            self.send(outgoing.error(req_id, 10190, f"The simulator streams BidAsk ticks only, not {kind}."))
            return
        ticker = TickByTick(req_id, found[0].key or "")
        for message in ticker.ticks(self.venue.market.latest):
            self.send(message)
        self.subs.tick_by_tick[req_id] = ticker

    def _cancel_tick_by_tick(self, fields: Fields) -> None:
        self.subs.tick_by_tick.pop(fields.integer(), None)

    def _req_market_data_type(self, fields: Fields) -> None:
        fields.skip()
        self._data_type = fields.integer(1)

    def _req_historical_data(self, fields: Fields) -> None:
        req_id = fields.integer()
        spec = incoming.contract(fields)
        fields.skip()  # includeExpired
        end = fields.text()
        bar_size = fields.text()
        fields.skip(3)  # duration, useRTH, whatToShow
        format_date = fields.integer(1)
        if spec.sec_type == "BAG":
            fields.skip(4 * fields.integer())
        keep_up_to_date = fields.flag()
        if self.venue.faults.paced("reqHistoricalData"):
            self.send(outgoing.error(req_id, 162, HISTORY_PACING))
            return
        found = self.venue.chain.find(spec)
        if len(found) != 1 or found[0].con_id != INDEX_CONID or bar_size.strip() != "1 min":
            text = f"{HISTORY_ERROR}HMDS query returned no data (the simulator keeps 1 min bars of the SPX index)"
            self.send(outgoing.error(req_id, 162, text))
            return
        now = self.venue.now_ns()
        end_ns = min(now, _parse_end(end)) if end else now
        self.send(history(req_id, self.venue.market.replayed_bars(), format_date, end_ns))
        if keep_up_to_date:
            self.subs.bars[req_id] = BarFeed(req_id, format_date, self.venue.market.last_bar_ts)

    def _cancel_historical_data(self, fields: Fields) -> None:
        fields.skip()
        self.subs.bars.pop(fields.integer(), None)

    def _req_real_time_bars(self, fields: Fields) -> None:
        fields.skip()
        req_id = fields.integer()
        text = "Error validating request: the simulator has no 5-second bars (use reqHistoricalData keepUpToDate)"
        self.send(outgoing.error(req_id, 321, text))

    # -- contracts ------------------------------------------------------------------------------------

    def _req_contract_data(self, fields: Fields) -> None:
        fields.skip()  # version
        req_id = fields.integer()
        spec = incoming.contract(fields)
        if self.venue.faults.paced("reqContractDetails"):
            self.send(outgoing.error(req_id, 100, PACING))
            return
        found = self.venue.chain.find(spec)
        if not found:
            self.send(outgoing.error(req_id, 200, NO_SECURITY))
            return
        for contract in found:
            exchange = self.venue.chain.exchange(contract, spec.exchange)
            self.send(outgoing.contract_data(req_id, self.venue.chain.details(contract, exchange)))
        self.send(outgoing.contract_data_end(req_id))

    def _req_sec_def_opt_params(self, fields: Fields) -> None:
        req_id = fields.integer()
        symbol = fields.text()
        fields.skip(2)  # futFopExchange, underlying secType
        con_id = fields.integer()
        if self.venue.faults.paced("reqSecDefOptParams"):
            self.send(outgoing.error(req_id, 100, PACING))
            return
        if symbol == "SPX" and con_id in (0, INDEX_CONID):
            for exchange, trading_class, expiries, strikes in self.venue.chain.option_parameters():
                self.send(outgoing.option_parameter(req_id, exchange, INDEX_CONID, trading_class, expiries, strikes))
        self.send(outgoing.option_parameter_end(req_id))

    # -- orders ---------------------------------------------------------------------------------------

    def _place_order(self, fields: Fields) -> None:
        assert self.client_id is not None
        self.venue.broker.place(self.client_id, incoming.place_order(fields))

    def _cancel_order(self, fields: Fields) -> None:
        assert self.client_id is not None
        fields.skip()
        self.venue.broker.cancel(self.client_id, fields.integer())

    def _open_orders(self, mine: bool) -> None:
        for message in self.venue.broker.open_orders(self.client_id if mine else None):
            self.send(message)
        self.send(outgoing.open_order_end())

    def _req_executions(self, fields: Fields) -> None:
        fields.skip()  # version
        req_id = fields.integer()
        client_id = fields.integer()
        account = fields.text()
        fields.skip()  # time
        symbol, sec_type = fields.text(), fields.text()
        fields.skip()  # exchange
        side = fields.text()
        for execution in self.venue.broker.executions:
            if (
                (client_id and execution.client_id != client_id)
                or (account and execution.account != account)
                or (symbol and execution.contract.symbol != symbol)
                or (sec_type and execution.contract.sec_type != sec_type)
                or (side and execution.side != {"BUY": "BOT", "SELL": "SLD"}.get(side, side))
            ):
                continue
            self.send(execution.message(req_id))
            if (commission := execution.commission_message()) is not None:
                self.send(commission)
        self.send(outgoing.execution_end(req_id))


def _parse_end(text: str) -> int:
    """A history request's end: ``yyyymmdd HH:MM:SS [zone]`` or ``yyyymmdd-HH:MM:SS`` (UTC)."""
    parts = text.replace("-", " ").split()
    zone = ZoneInfo(parts[2]) if len(parts) > 2 else UTC
    when = datetime.strptime(f"{parts[0]} {parts[1]}", "%Y%m%d %H:%M:%S").replace(tzinfo=zone)
    return int(when.timestamp()) * NS_PER_SECOND
