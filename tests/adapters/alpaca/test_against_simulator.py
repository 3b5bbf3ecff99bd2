"""The adapter's clients, on the real alpaca-py clients, against the Alpaca simulator on 127.0.0.1.

Each test runs on its own event loop, as a node's clients do: streams as tasks, REST in worker threads.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import requests
from nautilus_trader.model.data import Bar, QuoteTick
from nautilus_trader.model.enums import OrderSide, OrderStatus
from nautilus_trader.model.events import OrderAccepted, OrderRejected
from nautilus_trader.model.identifiers import generic_spread_id_to_list
from nautilus_trader.model.instruments import Equity, OptionContract

from odte_nautilus.adapters.alpaca.parsing import negated
from odte_nautilus.adapters.alpaca.symbols import alpaca_symbol, underlying_id
from odte_nautilus.nautilus_internals import leg_parent
from odte_nautilus.risk.time_units import MINUTE_NS
from odte_nautilus.sim.alpaca import AlpacaSimulator
from tests.adapters.alpaca.kit import Harness, eventually


def drive(sim: AlpacaSimulator, test: Callable[[Harness], Awaitable[None]], **harness: object) -> None:
    async def body() -> None:
        h = Harness(sim, asyncio.get_running_loop(), **harness)  # type: ignore[arg-type]
        try:
            await test(h)
        finally:
            await h.disconnect()

    asyncio.run(body())


async def open_at_ten(h: Harness) -> None:
    """Connected, the replay at 10:00 New York with quotes for every contract."""
    await h.connect()
    await asyncio.to_thread(h.sim.advance_to, h.sim.session_open_ns + 30 * MINUTE_NS)


def test_todays_chain_loads_over_every_page(sim):
    async def test(h: Harness) -> None:
        await h.provider.initialize()
        options = [i for i in h.provider.list_all() if isinstance(i, OptionContract)]
        assert len(options) == 162 and h.provider.pages == 4  # 50 + 50 + 50 + 12
        assert [i.id.value for i in h.provider.list_all() if isinstance(i, Equity)] == ["SPY.ALPACA"]
        option = options[0]
        assert option.id.venue.value == "ALPACA" and option.underlying == "SPY" and option.multiplier == 100
        assert option.price_increment.as_double() == 0.01 and option.expiration_ns == sim.session_close_ns
        assert option.info["exercise_style"] == "AMERICAN"

    drive(sim, test, page_size=50)


def test_option_quotes_and_the_underlyings_minute_bars_flow_as_the_strategies_expect(sim):
    async def test(h: Harness) -> None:
        await open_at_ten(h)
        await h.data_client._connect()
        call = h.option("C", h.atm())
        h.data_client.subscribe_quote_ticks(subscribe(h, call))
        h.data_client.subscribe_quote_ticks(subscribe(h, underlying_id("SPY")))
        h.data_client.subscribe_bars(subscribe_bars(h))
        await eventually(lambda: h.sim.stream_clients()["options"] and h.sim.stream_clients()["stocks"], what="streams")
        await asyncio.to_thread(h.sim.step_minute)
        seen = lambda: {d.bar_type if isinstance(d, Bar) else getattr(d, "instrument_id", None) for d in h.data}  # noqa: E731
        await eventually(lambda: {call, underlying_id("SPY")} <= seen() and any(isinstance(d, Bar) for d in h.data))
        quote = next(d for d in h.data if isinstance(d, QuoteTick) and d.instrument_id == call)
        bar = next(d for d in h.data if isinstance(d, Bar))
        assert quote.ask_price >= quote.bid_price
        assert str(bar.bar_type) == "SPY.ALPACA-1-MINUTE-LAST-EXTERNAL"
        assert bar.ts_event == h.sim.now_ns  # stamped at its close, as the catalog's bars
        assert quote.ts_event <= h.sim.now_ns
        assert {d.instrument_id for d in h.data if isinstance(d, QuoteTick)} == {call, underlying_id("SPY")}

    drive(sim, test)


def subscribe(h: Harness, instrument_id):
    from nautilus_trader.core.uuid import UUID4
    from nautilus_trader.data.messages import SubscribeQuoteTicks

    return SubscribeQuoteTicks(
        instrument_id=instrument_id,
        client_id=h.data_client.id,
        venue=instrument_id.venue,
        command_id=UUID4(),
        ts_init=h.clock.timestamp_ns(),
    )


def subscribe_bars(h: Harness):
    from nautilus_trader.core.uuid import UUID4
    from nautilus_trader.data.messages import SubscribeBars
    from nautilus_trader.model.data import BarType

    bar_type = BarType.from_str("SPY.ALPACA-1-MINUTE-LAST-EXTERNAL")
    return SubscribeBars(
        bar_type=bar_type,
        client_id=h.data_client.id,
        venue=bar_type.instrument_id.venue,
        command_id=UUID4(),
        ts_init=h.clock.timestamp_ns(),
    )


def test_a_package_is_entered_partially_filled_and_exited_as_the_backtest_books_it(sim):
    sim.faults.partial_fill = 0.5

    async def test(h: Harness) -> None:
        await open_at_ten(h)
        fly = h.iron_fly()
        entry = await h.submit(fly, OrderSide.BUY, 2, h.far_touch(fly, OrderSide.BUY))
        await eventually(lambda: len(h.leg_fills()) == 4, what="the first package's leg fills")
        assert entry.status == OrderStatus.PARTIALLY_FILLED and entry.filled_qty == 1
        [package] = [f for f in h.fills() if f.client_order_id == entry.client_order_id]
        assert package.last_px.as_double() < 0  # a credit, in the convention of a BUY of +wings -body
        # the package fill first, then its legs, each under <parent>-LEG-<symbol> with its own id and price
        order = [f.client_order_id.value for f in h.fills()]
        assert order[0] == entry.client_order_id.value and all(leg_parent(c) == order[0] for c in order[1:])
        legs = h.leg_fills()
        assert len({f.trade_id for f in legs}) == 4 and {f.venue_order_id.value.split("-LEG-")[0] for f in legs} == {
            entry.venue_order_id.value
        }
        net = sum((1 if f.order_side == OrderSide.BUY else -1) * f.last_px.as_double() for f in legs)
        assert abs(net - package.last_px.as_double()) < 0.015  # legs sum to the package's net
        assert h.held() == sim.positions()

        await asyncio.to_thread(h.sim.step_minute)  # the rest fills on a later quote
        await eventually(lambda: entry.status == OrderStatus.FILLED and len(h.leg_fills()) == 8, what="the rest")
        assert h.held() == sim.positions() and all(abs(q) == 2 for q in sim.positions().values())

        sim.faults.partial_fill = None
        exit_order = await h.submit(fly, OrderSide.SELL, 2, h.far_touch(fly, OrderSide.SELL))
        await eventually(lambda: exit_order.status == OrderStatus.FILLED and len(h.leg_fills()) == 12, what="exit")
        intents = {leg["position_intent"] for leg in sim.orders()[-1]["legs"]}
        assert intents == {"buy_to_close", "sell_to_close"}
        assert sim.positions() == {} and h.held() == {}
        assert not h.cache.positions_open()

    drive(sim, test)


def test_a_rejection_reaches_the_sender_with_the_brokers_reason(sim):
    sim.faults.reject_next = 1
    sim.faults.reject_reason = "insufficient options buying power"

    async def test(h: Harness) -> None:
        await open_at_ten(h)
        fly = h.iron_fly()
        order = await h.submit(fly, OrderSide.BUY, 1, h.far_touch(fly, OrderSide.BUY))
        [rejected] = [e for e in h.events if isinstance(e, OrderRejected)]
        assert order.status == OrderStatus.REJECTED and "40310000" in rejected.reason
        assert "insufficient options buying power" in rejected.reason and sim.positions() == {}

        sim.faults.reject_next, sim.faults.reject_on_stream = 1, True  # accepted, then refused by the venue
        second = await h.submit(fly, OrderSide.BUY, 1, h.far_touch(fly, OrderSide.BUY))
        await eventually(lambda: second.status == OrderStatus.REJECTED, what="the venue's rejection")
        assert not h.fills() and sim.positions() == {}

    drive(sim, test)


def test_a_duplicated_fill_event_is_booked_once(sim):
    async def test(h: Harness) -> None:
        await open_at_ten(h)
        sim.faults.duplicate_next = 20  # every update of the order arrives twice
        fly = h.iron_fly()
        order = await h.submit(fly, OrderSide.BUY, 1, h.far_touch(fly, OrderSide.BUY))
        await eventually(lambda: order.status == OrderStatus.FILLED and len(h.leg_fills()) == 4, what="the fill")
        await eventually(lambda: h.exec._orders.duplicates >= 5, what="the duplicates")
        await asyncio.sleep(0.6)  # a poll of the order books nothing more either
        assert len(h.fills()) == 5 and order.filled_qty == 1
        assert len([e for e in h.events if isinstance(e, OrderAccepted)]) == 1
        assert h.held() == sim.positions()

    drive(sim, test)


def test_a_submit_whose_answer_was_lost_is_retried_with_the_same_client_order_id_and_never_doubled(sim):
    async def test(h: Harness) -> None:
        await open_at_ten(h)
        submit = h.rest.client.submit_order
        calls: list[str] = []

        def answer_lost(request):
            calls.append(request.client_order_id)
            result = submit(request)  # the broker takes the first one ...
            if len(calls) == 1:
                raise requests.ConnectionError("connection reset before the answer")  # ... its answer is lost
            return result

        h.rest.client.submit_order = answer_lost  # type: ignore[method-assign]
        fly = h.iron_fly()
        order = await h.submit(fly, OrderSide.BUY, 1, h.far_touch(fly, OrderSide.BUY))
        await eventually(lambda: order.status == OrderStatus.FILLED, what="the fill")
        assert calls == [order.client_order_id.value] * 2  # the retry carried the same id and met a 422
        assert len(sim.orders()) == 1 and h.held() == sim.positions()
        assert len([e for e in h.events if isinstance(e, OrderRejected)]) == 0

    drive(sim, test)


def test_fills_sent_while_the_socket_was_down_are_booked_from_the_brokers_record(sim):
    async def test(h: Harness) -> None:
        await open_at_ten(h)
        assert h.exec._stream is not None
        await h.exec._stream.stop_ws()  # the node stops hearing trade updates ...
        await h.exec._stream.close()  # ... at once
        await eventually(lambda: not h.sim.stream_clients()["trade_updates"], what="the socket to close")
        fly = h.iron_fly()
        order = await h.submit(fly, OrderSide.BUY, 1, h.far_touch(fly, OrderSide.BUY))
        assert order.status == OrderStatus.ACCEPTED  # the submit's answer precedes the fill, which went unheard
        await eventually(lambda: order.status == OrderStatus.FILLED and len(h.leg_fills()) == 4, what="the poll")
        assert h.held() == sim.positions() and len(h.fills()) == 5

    drive(sim, test)


def test_a_429_storm_slows_the_client_down_and_the_order_still_goes_out_once(sim):
    async def test(h: Harness) -> None:
        await open_at_ten(h)
        sim.faults.throttle_next = 5
        fly = h.iron_fly()
        order = await h.submit(fly, OrderSide.BUY, 1, h.far_touch(fly, OrderSide.BUY))
        await eventually(lambda: order.status == OrderStatus.FILLED, what="the fill")
        assert h.rest.throttled >= 1 and len(sim.orders()) == 1

    drive(sim, test)


def test_cancel_and_replace_act_on_the_parent(sim):
    from nautilus_trader.core.uuid import UUID4
    from nautilus_trader.execution.messages import CancelOrder, ModifyOrder
    from nautilus_trader.model.events import OrderCanceled, OrderUpdated
    from nautilus_trader.model.objects import Price

    async def test(h: Harness) -> None:
        await open_at_ten(h)
        fly = h.iron_fly()
        touch = h.far_touch(fly, OrderSide.BUY)
        order = await h.submit(fly, OrderSide.BUY, 1, round(touch - 0.50, 2))  # rests
        await eventually(lambda: order.status == OrderStatus.ACCEPTED, what="acceptance")
        first = order.venue_order_id
        h.engine.execute(
            ModifyOrder(
                h.trader_id,
                order.strategy_id,
                fly,
                order.client_order_id,
                first,
                None,
                Price(round(touch, 2), 2),
                None,
                UUID4(),
                h.clock.timestamp_ns(),
            )
        )
        await eventually(lambda: any(isinstance(e, OrderUpdated) for e in h.events), what="the replacement")
        await eventually(lambda: order.status == OrderStatus.FILLED and len(h.leg_fills()) == 4, what="the fill")
        assert order.venue_order_id != first and order.price.as_double() == round(touch, 2)
        parents = {leg.venue_order_id.value.split("-LEG-")[0] for leg in h.leg_fills()}
        assert parents == {order.venue_order_id.value}  # the legs belong to the replacement
        replaced, replacement = sim.orders()
        assert replaced["status"] == "replaced" and replacement["replaces"] == replaced["id"]

        resting = await h.submit(fly, OrderSide.SELL, 1, round(h.far_touch(fly, OrderSide.SELL) + 0.50, 2))
        await eventually(lambda: resting.status == OrderStatus.ACCEPTED, what="the exit resting")
        h.engine.execute(
            CancelOrder(
                h.trader_id,
                resting.strategy_id,
                fly,
                resting.client_order_id,
                resting.venue_order_id,
                UUID4(),
                h.clock.timestamp_ns(),
            )
        )
        await eventually(lambda: resting.status == OrderStatus.CANCELED, what="the cancel")
        assert (
            sim.orders()[-1]["status"] == "canceled" and len([e for e in h.events if isinstance(e, OrderCanceled)]) == 1
        )
        assert h.held() == sim.positions()

    drive(sim, test)


def test_late_and_out_of_order_updates_book_nothing_twice(sim):
    async def test(h: Harness) -> None:
        await open_at_ten(h)
        sim.faults.delay_next = 10  # each update held until after the next one
        fly = h.iron_fly()
        order = await h.submit(fly, OrderSide.BUY, 2, h.far_touch(fly, OrderSide.BUY))
        await eventually(lambda: order.status == OrderStatus.FILLED and len(h.leg_fills()) == 4, what="the fill")
        await asyncio.to_thread(h.sim.step_minute)  # releases anything still held
        await asyncio.sleep(0.6)
        assert len(h.fills()) == 5 and h.held() == sim.positions()

    drive(sim, test)


def test_an_order_whose_submit_is_still_on_its_way_is_not_reported_missing(sim):
    """Nautilus rejects an order on a None report: a submit held up (a 429 backoff, a slow network) must not
    be declared "not at the broker" because the broker has not seen it *yet*."""
    import time

    from nautilus_trader.core.uuid import UUID4
    from nautilus_trader.execution.messages import GenerateOrderStatusReport

    async def test(h: Harness) -> None:
        await open_at_ten(h)
        submit = h.rest.client.submit_order

        def slow(request):
            time.sleep(1.0)
            return submit(request)

        h.rest.client.submit_order = slow  # type: ignore[method-assign]
        fly = h.iron_fly()
        sending = asyncio.create_task(h.submit(fly, OrderSide.BUY, 1, h.far_touch(fly, OrderSide.BUY)))
        await asyncio.sleep(0.3)
        [order] = h.cache.orders()
        query = GenerateOrderStatusReport(fly, order.client_order_id, None, UUID4(), h.clock.timestamp_ns())
        report = await h.exec.generate_order_status_report(query)  # the broker answers 404 for now
        assert report is not None and report.order_status == OrderStatus.ACCEPTED
        await sending
        await eventually(lambda: order.status == OrderStatus.FILLED, what="the fill")
        assert h.held() == sim.positions()

    drive(sim, test)


def test_a_broker_restart_loses_nothing(sim):
    async def test(h: Harness) -> None:
        await open_at_ten(h)
        await asyncio.to_thread(sim.restart)  # sockets drop; orders, positions and cash survive
        fly = h.iron_fly()
        order = await h.submit(fly, OrderSide.BUY, 1, h.far_touch(fly, OrderSide.BUY))
        await eventually(lambda: order.status == OrderStatus.FILLED and len(h.leg_fills()) == 4, what="the fill")
        assert h.held() == sim.positions()

    drive(sim, test)


def test_a_restarted_node_learns_the_positions_and_working_orders_from_the_reports(sim):
    from nautilus_trader.core.uuid import UUID4
    from nautilus_trader.execution.messages import GenerateOrderStatusReports, GeneratePositionStatusReports
    from nautilus_trader.model.enums import PositionSide

    async def test(h: Harness) -> None:
        await open_at_ten(h)
        fly = h.iron_fly()
        entry = await h.submit(fly, OrderSide.BUY, 1, h.far_touch(fly, OrderSide.BUY))
        await eventually(lambda: entry.status == OrderStatus.FILLED, what="the entry")
        exit_order = await h.submit(fly, OrderSide.SELL, 1, round(h.far_touch(fly, OrderSide.SELL) + 0.50, 2))
        await eventually(lambda: exit_order.status == OrderStatus.ACCEPTED, what="the exit resting")

        fresh = Harness(sim, asyncio.get_running_loop())  # a node after kill -9: an empty cache
        try:
            await fresh.connect()
            now = fresh.clock.timestamp_ns()
            orders = await fresh.exec.generate_order_status_reports(
                GenerateOrderStatusReports(None, None, None, False, UUID4(), now)
            )
            positions = await fresh.exec.generate_position_status_reports(
                GeneratePositionStatusReports(None, None, None, UUID4(), now)
            )
        finally:
            await fresh.disconnect()
        # the working exit, as the node sent it (its client order id, the spread, SELL); the filled entry is in
        # the positions, not in an order whose spread fill Nautilus would book without its legs
        [working] = orders  # selling the fly is buying its negation: the same legs traded the same way
        assert working.client_order_id == exit_order.client_order_id and working.order_status == OrderStatus.ACCEPTED
        assert (working.instrument_id, working.order_side) in {(fly, OrderSide.SELL), (negated(fly), OrderSide.BUY)}
        assert fresh.cache.instrument(working.instrument_id) is not None  # else Nautilus would skip the report
        assert {(p.instrument_id, p.position_side) for p in positions} == {
            (leg, PositionSide.LONG if ratio > 0 else PositionSide.SHORT)
            for leg, ratio in generic_spread_id_to_list(fly)
        }

    drive(sim, test)


def test_a_transient_error_is_never_reported_as_order_not_found(sim):
    from nautilus_trader.core.uuid import UUID4
    from nautilus_trader.execution.messages import GenerateOrderStatusReport
    from nautilus_trader.model.identifiers import ClientOrderId

    async def test(h: Harness) -> None:
        await open_at_ten(h)
        fly = h.iron_fly()
        order = await h.submit(fly, OrderSide.BUY, 1, h.far_touch(fly, OrderSide.BUY))
        await eventually(lambda: order.status == OrderStatus.FILLED, what="the fill")

        def query(cid: ClientOrderId) -> GenerateOrderStatusReport:
            return GenerateOrderStatusReport(fly, cid, None, UUID4(), h.clock.timestamp_ns())

        sim.faults.throttle_next = 50  # a 429 storm longer than the client waits
        report = await h.exec.generate_order_status_report(query(order.client_order_id))
        assert report is not None and report.order_status == OrderStatus.FILLED and report.filled_qty == 1
        sim.faults.throttle_next = 0
        assert await h.exec.generate_order_status_report(query(ClientOrderId("O-NEVER-SENT"))) is None  # a 404
        report = await h.exec.generate_order_status_report(query(order.client_order_id))
        assert (
            report is not None
            and report.venue_order_id == order.venue_order_id
            and report.filled_qty == order.filled_qty
        )

    drive(sim, test)


def test_symbols_of_the_simulators_contracts_map_back(sim):
    async def test(h: Harness) -> None:
        await h.provider.initialize()
        for option in [i for i in h.provider.list_all() if isinstance(i, OptionContract)][:5]:
            assert alpaca_symbol(option.id) in {c for c in sim.market.contracts}

    drive(sim, test)


def test_a_loopback_config_asks_the_simulator_for_latest_quotes_never_alpacas_data_host(sim):
    """No ``data_url_http``: the market-data REST follows ``base_url_http`` (tests talk only to 127.0.0.1)."""

    async def test(h: Harness) -> None:
        assert str(h.data_client._market.client._base_url).startswith(sim.rest_url)

    drive(sim, test)
