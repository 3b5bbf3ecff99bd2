"""Every message the simulator writes, read back by both decoders a client uses: the official ``ibapi``
(under Nautilus) and ib_async's, at server version 178. A field out of place shifts every field after it,
so each message is checked by the values a client takes from it, not only by the method it reaches."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC
from decimal import Decimal
from types import SimpleNamespace
from typing import Any, cast

import ib_async.decoder
import pytest
from ibapi.decoder import Decoder as IbapiDecoder
from ibapi.wrapper import EWrapper

from odte_nautilus.sim.ib import outgoing
from odte_nautilus.sim.ib.contracts import BAG, Chain
from odte_nautilus.sim.ib.wire import SERVER_VERSION, Value
from odte_nautilus.sim.ib.wire import field as wire_field
from odte_nautilus.sim.replay import Market


class IbapiRecorder(EWrapper):
    """ibapi's wrapper, every callback recorded (a message it cannot read logs and calls nothing)."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[tuple[str, tuple]] = []

    def __getattribute__(self, name: str) -> Any:
        if name.startswith("_") or name in ("calls", "logAnswer") or not hasattr(EWrapper, name):
            return super().__getattribute__(name)
        return lambda *args: self.calls.append((name, args))


@dataclass
class AsyncRecorder:
    """ib_async's wrapper as its decoder calls it."""

    calls: list[tuple[str, tuple]] = field(default_factory=list)
    ib: Any = field(default_factory=lambda: SimpleNamespace(TimezoneTWS=None))
    defaultTimezone: Any = UTC

    def __getattr__(self, name: str) -> Any:
        return lambda *args: self.calls.append((name, args))


def decoded(message: list[Value]) -> tuple[list[tuple[str, tuple]], list[tuple[str, tuple]]]:
    """(ibapi's callbacks, ib_async's) for one message as the simulator frames it."""
    texts = [wire_field(v) for v in message]
    official = IbapiRecorder()
    IbapiDecoder(official, SERVER_VERSION).interpret(tuple(t.encode() for t in texts[1:]), int(texts[0]))
    reloaded = AsyncRecorder()
    ib_async.decoder.Decoder(cast(Any, reloaded), SERVER_VERSION).handlers[int(texts[0])](texts)
    return official.calls, reloaded.calls


@pytest.fixture(scope="module")
def chain(catalog) -> Chain:
    return Chain(Market(catalog, "SPX", None))


def test_a_combo_open_order_reads_the_same_in_both_clients(chain):
    legs = sorted(chain.by_key.values(), key=lambda c: c.local_symbol)[:2]
    message = outgoing.open_order(
        7,
        BAG.fields("SMART"),
        [(legs[0].con_id, 1, "SELL", "SMART"), (legs[1].con_id, 2, "BUY", "SMART")],
        "BUY",
        3,
        "LMT",
        Decimal("-1.25"),
        "DAY",
        "DU1234567",
        "O-1:7",
        5,
        1000001,
        "Submitted",
        [("NonGuaranteed", "1")],
    )
    (official,), (reloaded,) = decoded(message)
    for name, (order_id, contract, order, state) in (official, reloaded):
        assert name == "openOrder" and order_id == order.orderId == 7
        assert (contract.secType, contract.symbol, contract.exchange) == ("BAG", "SPX", "SMART")
        assert [(c.conId, c.ratio, c.action) for c in contract.comboLegs] == [
            (legs[0].con_id, 1, "SELL"),
            (legs[1].con_id, 2, "BUY"),
        ]
        assert (order.action, float(order.totalQuantity), order.orderType, order.lmtPrice) == ("BUY", 3, "LMT", -1.25)
        assert (order.tif, order.account, order.orderRef, order.clientId, order.permId) == (
            "DAY",
            "DU1234567",
            "O-1:7",
            5,
            1000001,
        )
        assert [(p.tag, p.value) for p in order.smartComboRoutingParams] == [("NonGuaranteed", "1")]
        assert state.status == "Submitted"


def test_an_execution_and_its_commission_read_the_same_in_both_clients(chain):
    leg = next(iter(chain.by_key.values()))
    when = "20240722 14:31:00 UTC"
    message = outgoing.execution(
        -1, 7, leg, "SMART", "e.1", when, "DU1234567", "SLD", 2, Decimal("11.30"), 1000001, 5, 2, Decimal("11.3"), "O-1"
    )
    (official,), (reloaded,) = decoded(message)
    for name, (req_id, contract, execution) in (official, reloaded):
        assert name == "execDetails" and req_id == -1
        assert (contract.conId, contract.secType, contract.localSymbol) == (leg.con_id, "OPT", leg.local_symbol)
        assert (execution.execId, execution.orderId, execution.side, float(execution.shares)) == ("e.1", 7, "SLD", 2)
        assert (execution.price, execution.permId, execution.clientId, execution.orderRef) == (11.3, 1000001, 5, "O-1")
        assert execution.acctNumber == "DU1234567"
    assert official[1][2].time == when and reloaded[1][2].time.isoformat() == "2024-07-22T14:31:00+00:00"
    (official,), (reloaded,) = decoded(outgoing.commission_report("e.1", Decimal("1.30")))
    assert (official[1][0].execId, official[1][0].commissionAndFees) == ("e.1", 1.3)
    assert (reloaded[1][0].execId, reloaded[1][0].commission) == ("e.1", 1.3)


def test_contract_details_read_the_same_in_both_clients(chain):
    option = next(iter(chain.by_key.values()))
    for contract, exchange in ((option, "CBOE"), (chain.index, "CBOE")):
        (official,), (reloaded,) = decoded(outgoing.contract_data(9, chain.details(contract, exchange)))
        for name, (req_id, details) in (official, reloaded):
            assert name == "contractDetails" and req_id == 9
            c = details.contract
            assert (c.conId, c.secType, c.localSymbol, c.exchange, c.tradingClass) == (
                contract.con_id,
                contract.sec_type,
                contract.local_symbol,
                exchange,
                contract.trading_class,
            )
            assert details.timeZoneId == "US/Eastern" and details.tradingHours.endswith(":1600")
            assert float(details.minSize) == float(details.sizeIncrement) == 1
            if contract.sec_type == "OPT":
                series = (c.lastTradeDateOrContractMonth, c.right, c.multiplier)
                assert series == (contract.expiry, contract.right, "100")
                assert (details.underConId, details.underSymbol, details.underSecType) == (416904, "SPX", "IND")


@pytest.mark.parametrize(
    ("message", "official", "reloaded"),
    [
        (outgoing.managed_accounts(["DU1234567"]), ("managedAccounts", ("DU1234567",)), None),
        (outgoing.next_valid_id(12), ("nextValidId", (12,)), None),
        (outgoing.current_time(1721655000), ("currentTime", (1721655000,)), None),
        (outgoing.error(7, 104, "Can't modify"), None, ("error", (7, 104, "Can't modify", ""))),
        (
            outgoing.order_status(7, "Filled", 2, 0, Decimal("-7.9"), 1000001, Decimal("-7.9"), 5),
            None,
            ("orderStatus", (7, "Filled", 2.0, 0.0, -7.9, 1000001, 0, -7.9, 5, "", 0.0)),
        ),
        (outgoing.tick_size(3, 0, 25), None, ("tickSize", (3, 0, 25.0))),
        (outgoing.tick_price(3, 1, Decimal("11.5"), 89), None, ("priceSizeTick", (3, 1, 11.5, 89.0))),
        (outgoing.open_order_end(), ("openOrderEnd", ()), ("openOrderEnd", ())),
        (outgoing.position_end(), ("positionEnd", ()), ("positionEnd", ())),
        (outgoing.execution_end(4), ("execDetailsEnd", (4,)), ("execDetailsEnd", (4,))),
        (outgoing.contract_data_end(4), ("contractDetailsEnd", (4,)), ("contractDetailsEnd", (4,))),
        (outgoing.account_download_end("DU1"), ("accountDownloadEnd", ("DU1",)), ("accountDownloadEnd", ("DU1",))),
        (outgoing.account_update_multi_end(4), ("accountUpdateMultiEnd", (4,)), ("accountUpdateMultiEnd", (4,))),
        (outgoing.account_summary_end(4), ("accountSummaryEnd", (4,)), ("accountSummaryEnd", (4,))),
        (outgoing.completed_orders_end(), None, ("completedOrdersEnd", ())),
        (outgoing.tick_snapshot_end(4), ("tickSnapshotEnd", (4,)), ("tickSnapshotEnd", (4,))),
        (
            outgoing.account_summary(4, "DU1", "NetLiquidation", "100.00", "USD"),
            ("accountSummary", (4, "DU1", "NetLiquidation", "100.00", "USD")),
            ("accountSummary", (4, "DU1", "NetLiquidation", "100.00", "USD")),
        ),
        (
            outgoing.account_value("NetLiquidation", "100.00", "USD", "DU1"),
            ("updateAccountValue", ("NetLiquidation", "100.00", "USD", "DU1")),
            ("updateAccountValue", ("NetLiquidation", "100.00", "USD", "DU1")),
        ),
        (
            outgoing.account_update_multi(4, "DU1", "NetLiquidation", "1", "USD"),
            ("accountUpdateMulti", (4, "DU1", "", "NetLiquidation", "1", "USD")),
            ("accountUpdateMulti", (4, "DU1", "", "NetLiquidation", "1", "USD")),
        ),
        (outgoing.option_parameter_end(4), None, ("securityDefinitionOptionParameterEnd", (4,))),
        (outgoing.market_data_type(4, 1), ("marketDataType", (4, 1)), ("marketDataType", (4, 1))),
    ],
)
def test_the_small_messages_reach_their_callbacks_with_their_values(message, official, reloaded):
    got_official, got_reloaded = decoded(message)
    assert got_official and got_reloaded, "a decoder could not read the message"
    if official is not None:
        assert got_official[0] == official
    if reloaded is not None:
        assert got_reloaded[0] == reloaded


def test_positions_portfolio_bars_and_chains_read_the_same_in_both_clients(chain):
    leg = next(iter(chain.by_key.values()))
    (official,), (reloaded,) = decoded(outgoing.position("DU1", leg, "", -2, Decimal("1130")))
    for name, (account, contract, qty, cost) in (official, reloaded):
        assert (name, account, contract.conId, float(qty), cost) == ("position", "DU1", leg.con_id, -2, 1130.0)
    price, value, cost, pnl = Decimal("11.5"), Decimal("-2300"), Decimal("1130"), Decimal("-40")
    (official,), (reloaded,) = decoded(outgoing.portfolio_value(leg, "CBOE", -2, price, value, cost, pnl, "DU1"))
    for name, (contract, *numbers, account) in (official, reloaded):
        assert (name, contract.localSymbol, account) == ("updatePortfolio", leg.local_symbol, "DU1")
        assert [float(n) for n in numbers] == [-2, 11.5, -2300, 1130, -40, 0]
    update = outgoing.historical_data_update(4, "1721655060", *(Decimal(v) for v in ("1", "3", "0.5", "2")))
    (official,), (reloaded,) = decoded(update)
    for name, (req_id, bar) in (official, reloaded):
        assert (name, req_id, bar.date, bar.open, bar.high, bar.low, bar.close) == (
            "historicalDataUpdate",
            4,
            "1721655060",
            1,
            3,
            0.5,
            2,
        )
    rows: list[list[Value]] = [["1721655000", Decimal(1), Decimal(3), Decimal("0.5"), Decimal(2), 0, Decimal(2), 1]]
    by_ibapi, by_ib_async = decoded(outgoing.historical_data(4, "a", "b", rows))
    assert [c[0] for c in by_ibapi] == [c[0] for c in by_ib_async] == ["historicalData", "historicalDataEnd"]
    assert by_ibapi[0][1][1].close == by_ib_async[0][1][1].close == 2
    strikes = [Decimal(5500), Decimal("5505")]
    (official,), (reloaded,) = decoded(outgoing.option_parameter(4, "SMART", 416904, "SPXW", ["20240722"], strikes))
    for name, (req_id, exchange, con_id, trading_class, multiplier, expiries, got) in (official, reloaded):
        assert (name, req_id, exchange, int(con_id), trading_class, multiplier) == (
            "securityDefinitionOptionParameter",
            4,
            "SMART",
            416904,
            "SPXW",
            "100",
        )
        assert sorted(expiries) == ["20240722"] and sorted(got) == [5500.0, 5505.0]
    ticks = outgoing.tick_by_tick_bid_ask(4, 1721655000, Decimal("1.1"), Decimal("1.2"), 5, 6)
    for calls in decoded(ticks):
        assert calls[0][0] == "tickByTickBidAsk" and calls[0][1][:6] == (4, 1721655000, 1.1, 1.2, 5, 6)
