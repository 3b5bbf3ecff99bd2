"""The messages the simulated TWS writes, laid out for server version 178.

Each function returns one message's fields, its id first, in the order ``ibapi``'s decoder and ib_async's
read them at that version (a version field where the message still carries one). A field the simulator has
no value for is written empty, which both decoders read as unset; counts (legs, parameters, conditions) are
always written, since ib_async reads them as integers.
"""

from __future__ import annotations

from decimal import Decimal

from odte_nautilus.sim.ib.contracts import IbContract
from odte_nautilus.sim.ib.messages import Out
from odte_nautilus.sim.ib.wire import UNSET_DOUBLE, Value

Message = list[Value]


def managed_accounts(accounts: list[str]) -> Message:
    return [Out.MANAGED_ACCTS, 1, ",".join(accounts)]


def next_valid_id(order_id: int) -> Message:
    return [Out.NEXT_VALID_ID, 1, order_id]


def current_time(seconds: int) -> Message:
    return [Out.CURRENT_TIME, 1, seconds]


def error(req_id: int, code: int, text: str) -> Message:
    return [Out.ERR_MSG, 2, req_id, code, text, ""]


def contract_data(req_id: int, details: list[Value]) -> Message:
    return [Out.CONTRACT_DATA, req_id, *details]


def contract_data_end(req_id: int) -> Message:
    return [Out.CONTRACT_DATA_END, 1, req_id]


def option_parameter(
    req_id: int, exchange: str, under_con_id: int, trading_class: str, expiries: list[str], strikes: list[Decimal]
) -> Message:
    return [
        Out.SECURITY_DEFINITION_OPTION_PARAMETER,
        req_id,
        exchange,
        under_con_id,
        trading_class,
        "100",
        len(expiries),
        *expiries,
        len(strikes),
        *strikes,
    ]


def option_parameter_end(req_id: int) -> Message:
    return [Out.SECURITY_DEFINITION_OPTION_PARAMETER_END, req_id]


def tick_price(req_id: int, tick_type: int, price: Decimal, size: int) -> Message:
    """A price tick; the size rides along (both decoders turn it into the matching size tick)."""
    return [Out.TICK_PRICE, 6, req_id, tick_type, price, size, 0]


def tick_size(req_id: int, tick_type: int, size: int) -> Message:
    return [Out.TICK_SIZE, 6, req_id, tick_type, size]


def tick_req_params(req_id: int, min_tick: Decimal) -> Message:
    return [Out.TICK_REQ_PARAMS, req_id, min_tick, "SMART", 3]


def tick_snapshot_end(req_id: int) -> Message:
    return [Out.TICK_SNAPSHOT_END, 1, req_id]


def market_data_type(req_id: int, kind: int) -> Message:
    return [Out.MARKET_DATA_TYPE, 1, req_id, kind]


def tick_by_tick_bid_ask(
    req_id: int, seconds: int, bid: Decimal, ask: Decimal, bid_size: int, ask_size: int
) -> Message:
    return [Out.TICK_BY_TICK, req_id, 3, seconds, bid, ask, bid_size, ask_size, 0]


def historical_data(req_id: int, start: str, end: str, bars: list[list[Value]]) -> Message:
    """Bars as (date, open, high, low, close, volume, wap, count); the end comes in the same message."""
    return [Out.HISTORICAL_DATA, req_id, start, end, len(bars), *(v for bar in bars for v in bar)]


def historical_data_update(req_id: int, when: str, o: Decimal, h: Decimal, low: Decimal, c: Decimal) -> Message:
    """One bar of a ``keepUpToDate`` subscription: count, date, open, close, high, low, wap, volume."""
    return [Out.HISTORICAL_DATA_UPDATE, req_id, -1, when, o, c, h, low, c, 0]


def order_status(
    order_id: int,
    status: str,
    filled: int,
    remaining: int,
    avg_price: Decimal,
    perm_id: int,
    last_price: Decimal,
    client_id: int,
) -> Message:
    return [Out.ORDER_STATUS, order_id, status, filled, remaining, avg_price, perm_id, 0, last_price, client_id, "", 0]


def open_order_end() -> Message:
    return [Out.OPEN_ORDER_END, 1]


def completed_orders_end() -> Message:
    return [Out.COMPLETED_ORDERS_END]


def execution(
    req_id: int,
    order_id: int,
    contract: IbContract,
    exchange: str,
    exec_id: str,
    when: str,
    account: str,
    side: str,
    shares: int,
    price: Decimal,
    perm_id: int,
    client_id: int,
    cum_qty: int,
    avg_price: Decimal,
    order_ref: str,
) -> Message:
    return [
        Out.EXECUTION_DATA,
        req_id,
        order_id,
        *contract.fields(exchange),
        exec_id,
        when,
        account,
        exchange,
        side,
        shares,
        price,
        perm_id,
        client_id,
        0,  # liquidation
        cum_qty,
        avg_price,
        order_ref,
        "",  # evRule
        "",  # evMultiplier
        "",  # modelCode
        2,  # lastLiquidity: removed liquidity (the simulator always crosses)
        0,  # pendingPriceRevision (version 178)
    ]


def execution_end(req_id: int) -> Message:
    return [Out.EXECUTION_DATA_END, 1, req_id]


def commission_report(exec_id: str, commission: Decimal) -> Message:
    return [Out.COMMISSION_REPORT, 1, exec_id, commission, "USD", UNSET_DOUBLE, UNSET_DOUBLE, ""]


def position(account: str, contract: IbContract, exchange: str, qty: int, avg_cost: Decimal) -> Message:
    return [Out.POSITION_DATA, 3, account, *contract.fields(exchange), qty, avg_cost]


def position_end() -> Message:
    return [Out.POSITION_END, 1]


def account_value(key: str, value: str, currency: str, account: str) -> Message:
    return [Out.ACCT_VALUE, 2, key, value, currency, account]


def portfolio_value(
    contract: IbContract,
    primary_exchange: str,
    qty: int,
    price: Decimal,
    value: Decimal,
    avg_cost: Decimal,
    unrealized: Decimal,
    account: str,
) -> Message:
    fields = contract.fields(primary_exchange)  # the exchange's place holds the primary exchange here
    return [Out.PORTFOLIO_VALUE, 8, *fields, qty, price, value, avg_cost, unrealized, 0, account]


def account_time(hhmm: str) -> Message:
    return [Out.ACCT_UPDATE_TIME, 1, hhmm]


def account_download_end(account: str) -> Message:
    return [Out.ACCT_DOWNLOAD_END, 1, account]


def account_update_multi(req_id: int, account: str, key: str, value: str, currency: str) -> Message:
    return [Out.ACCOUNT_UPDATE_MULTI, 1, req_id, account, "", key, value, currency]


def account_update_multi_end(req_id: int) -> Message:
    return [Out.ACCOUNT_UPDATE_MULTI_END, 1, req_id]


def account_summary(req_id: int, account: str, tag: str, value: str, currency: str) -> Message:
    return [Out.ACCOUNT_SUMMARY, 1, req_id, account, tag, value, currency]


def account_summary_end(req_id: int) -> Message:
    return [Out.ACCOUNT_SUMMARY_END, 1, req_id]


def open_order(
    order_id: int,
    contract: list[Value],
    legs: list[tuple[int, int, str, str]],
    action: str,
    qty: int,
    order_type: str,
    limit: Decimal | None,
    tif: str,
    account: str,
    order_ref: str,
    client_id: int,
    perm_id: int,
    status: str,
    combo_params: list[tuple[str, str]],
) -> Message:
    """``openOrder``: the order as TWS holds it, a combo with its legs (conId, ratio, action, exchange).

    ``contract`` is conId .. tradingClass as the client described it (a combo's own: BAG, SPX, SMART)."""
    fields: Message = [Out.OPEN_ORDER, order_id, *contract, action, qty, order_type, limit, "", tif]
    fields += ["", account, "", 0, order_ref, client_id, perm_id, 0, 0, 0, ""]  # oca .. goodAfterTime
    fields += ["", "", "", ""]  # sharesAllocation, faGroup, faMethod, faPercentage (no faProfile at 178)
    fields += ["", "", "", "", ""]  # modelCode, goodTillDate, rule80A, percentOffset, settlingFirm
    fields += [0, "", -1, 0]  # shortSaleSlot, designatedLocation, exemptCode, auctionStrategy
    fields += ["", "", "", "", ""]  # startingPrice, stockRefPrice, delta, stockRangeLower, stockRangeUpper
    fields += ["", 0, 0, 0, "", 0]  # displaySize, blockOrder, sweepToFill, allOrNone, minQty, ocaType
    fields += [0, 0, "", 0, 0]  # eTradeOnly, firmQuoteOnly, nbboPriceCap, parentId, triggerMethod
    fields += ["", 0, "", ""]  # volatility, volatilityType, deltaNeutralOrderType, deltaNeutralAuxPrice
    fields += [0, 0, "", "", "", ""]  # continuousUpdate, referencePriceType, trail*, basisPoints*
    fields += [_legs_description(legs), len(legs)]
    for con_id, ratio, leg_action, exchange in legs:
        fields += [con_id, ratio, leg_action, exchange, 0, 0, "", -1]
    fields += [0, len(combo_params)]  # orderComboLegs (no per-leg prices), smartComboRoutingParams
    for tag, value in combo_params:
        fields += [tag, value]
    fields += ["", "", ""]  # scaleInitLevelSize, scaleSubsLevelSize, scalePriceIncrement
    fields += ["", 0, "", "", 0, 0]  # hedgeType, optOutSmartRouting, clearing*, notHeld, no deltaNeutral
    fields += ["", 0, 0, status]  # algoStrategy, solicited, whatIf, status
    fields += [""] * 9  # margins before, change, after
    fields += ["", "", "", "", "", 0, 0]  # commission, min, max, currency, warningText, randomize*
    fields += [0]  # conditions
    fields += ["", "", "", "", "", "", "", 0]  # adjusted order parameters
    fields += ["", "", "", "", 0, 0, 0, 0]  # softDollarTier, cashQty, dontUseAutoPrice .. usePriceMgmtAlgo
    fields += ["", "", 0]  # duration, postToAts, autoCancelParent
    fields += ["", "", "", "", ""]  # minTradeQty .. midOffsetAtHalf
    return fields


def _legs_description(legs: list[tuple[int, int, str, str]]) -> str:
    """TWS's ``comboLegsDescrip``: ``conId|ratio`` per leg, comma separated (signed by action)."""
    return ",".join(f"{con_id}|{ratio if action == 'BUY' else -ratio}" for con_id, ratio, action, _ in legs)
