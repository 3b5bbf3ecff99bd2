"""The gate against hostile callers: a buggy strategy, a careless manual trader, a racing order flow.

Every test runs a real ``BacktestEngine`` with the project's node attached exactly as ``odte backtest`` and
``odte live`` attach it (``runtime.attach``: the gate on the order endpoints and the node guard), plain
Nautilus strategies sending plain Nautilus orders, and asserts on the engine's own positions and order
states. Each class of hole the gate had (issue: "the gate must hold against any caller") has tests named
for it; each failed on the gate that checked filled positions only.
"""

from __future__ import annotations

from datetime import date

import pytest
from nautilus_trader.common.factories import OrderFactory
from nautilus_trader.examples.algorithms.twap import TWAPExecAlgorithm
from nautilus_trader.model.enums import OrderSide, OrderStatus, TriggerType
from nautilus_trader.model.identifiers import ExecAlgorithmId, StrategyId
from nautilus_trader.model.objects import Price, Quantity

from odte_nautilus.gate import _pending_view
from odte_nautilus.nautilus_internals import EXEC_ENDPOINT
from odte_nautilus.orders import package_tags
from odte_nautilus.risk.book import RiskBook
from odte_nautilus.risk.model import ExitKind
from odte_nautilus.risk.policy import load_policy
from odte_nautilus.runtime import attach, detach
from tests.engine_kit import Scripted, engine, index, minute_quotes, option, send_raw, spread
from tests.kit import ny_ns

C, P = option("C", 5100), option("P", 5100)
CW, PW = option("C", 5120), option("P", 5080)
FLY = spread([(C, -1), (P, -1), (CW, 1), (PW, 1)])
STRADDLE = spread([(C, 1), (P, 1)])
STRANGLE = spread([(CW, 1), (PW, 1)])
BOOK = {
    C: (10.0, 10.2),
    P: (10.0, 10.2),
    CW: (2.0, 2.1),
    PW: (2.0, 2.1),
    FLY: (-12.4, -11.8),
    STRADDLE: (20.0, 20.4),
    STRANGLE: (4.0, 4.2),
}
LOWER = {**BOOK, C: (5.0, 5.2), P: (5.0, 5.2), STRADDLE: (10.0, 10.4), FLY: (-2.4, -1.8)}
# Distinct order id tags: Nautilus refuses two strategies with the same tag on one node.
THETA, THETA_2, GAMMA, MANUAL = "ThetaHarvester-001", "ThetaHarvester-002", "GammaScalper-003", "Manual-004"


class Hostile(Scripted):
    """A plain Nautilus strategy that records every refusal it receives."""

    def __init__(self, script: dict, strategy_id: str = THETA, trigger=None) -> None:
        super().__init__((trigger or C).id, script, strategy_id=strategy_id)
        self.modify_rejected: list = []

    def on_order_modify_rejected(self, event) -> None:
        self.modify_rejected.append(event)

    def codes(self) -> list[str]:
        return [d.reason.split(":")[0] for d in self.denied]

    def emulated_limit(self, instrument, side: OrderSide, qty: int, price: float):
        order = self.order_factory.limit(
            instrument.id, side, Quantity.from_int(qty), Price(price, 2), emulation_trigger=TriggerType.BID_ASK
        )
        self.submit_order(order)
        return order


class Node:
    """One engine with the project's node attached; ``run`` replays minute quotes from 10:00 (or ``start``)."""

    def __init__(self, tmp_path, profile: str = "multi_strategy_paper", nav: float = 1e6) -> None:
        self.book = RiskBook(load_policy(profile), tmp_path / "state.sqlite", tmp_path / "decisions.jsonl", nav=nav)
        self.engine = engine(index(), *(i for i in BOOK))
        self.runtime = attach(self.engine.kernel, self.book)

    def run(self, strategies: list[Scripted], quotes: list, algorithms=()) -> Node:
        for algorithm in algorithms:
            self.engine.add_exec_algorithm(algorithm)
        for strategy in strategies:
            self.engine.add_strategy(strategy)
        self.engine.add_data(quotes)
        self.engine.run()
        return self

    def positions(self, strategy_id: str | None = None) -> dict[str, float]:
        return {
            p.instrument_id.symbol.value: p.signed_qty
            for p in self.engine.cache.positions_open()
            if strategy_id is None or p.strategy_id.value == strategy_id
        }

    def close(self) -> None:
        detach(self.engine.kernel)
        self.engine.dispose()
        self.book.close()


@pytest.fixture
def node(tmp_path):
    made: list[Node] = []

    def make(profile: str = "multi_strategy_paper", nav: float = 1e6) -> Node:
        made.append(Node(tmp_path / str(len(made)), profile, nav))
        (tmp_path / str(len(made) - 1)).mkdir(exist_ok=True)
        return made[-1]

    yield make
    for n in made:
        n.close()


def quotes(minutes: int = 6, book: dict = BOOK, start=(10, 0)) -> list:
    return minute_quotes(book, range(minutes), start=start)


FLY_HELD = {C.id.symbol.value: -1.0, P.id.symbol.value: -1.0, CW.id.symbol.value: 1.0, PW.id.symbol.value: 1.0}


def enter_fly(s: Hostile) -> None:
    s.limit(FLY, OrderSide.BUY, 1, -11.8)


def exit_fly(s: Hostile, price: float = -12.4, qty: int = 1):
    return s.limit(FLY, OrderSide.SELL, qty, price)


def kill(n: Node):
    return lambda s: n.book.kill(by="test", reason="emergency stop", now_ns=s.clock.timestamp_ns())


def kill_elsewhere(n: Node):
    """The kill switch set in the durable store by another process (the CLI): no listener hears it."""
    return lambda s: n.book.store.set_kill_switch(True, by="cli", reason="emergency stop", ts_ns=s.clock.timestamp_ns())


# -- 1. working orders are not invisible --------------------------------------------------------------


def test_two_exits_sent_in_one_callback_cannot_both_close_the_package(node):
    n = node()
    s = Hostile({1: enter_fly, 3: lambda s: (exit_fly(s), exit_fly(s))})
    n.run([s], quotes())
    assert len(s.denied) == 1
    assert n.positions() == {}  # closed once, not reversed into a short straddle with long wings sold


def test_a_resting_exit_and_a_second_exit_cannot_overshoot_the_holding(node):
    n = node()
    later = quotes(3, {**BOOK, FLY: (-4.0, -3.6)}, start=(10, 6))  # the resting exit becomes marketable
    s = Hostile({1: enter_fly, 2: lambda s: exit_fly(s, price=-5.0), 3: lambda s: exit_fly(s)})
    n.run([s], quotes() + later)
    assert len(s.denied) == 1  # the second exit is an entry in disguise (here refused beside a losing package)
    assert n.positions() == {}  # the resting exit filled later, alone: flat, not reversed


def test_a_modify_cannot_raise_an_exit_past_the_holding(node):
    n = node()
    orders = {}

    def rest_exit(s):
        orders["exit"] = exit_fly(s, price=-5.0)

    s = Hostile({1: enter_fly, 2: rest_exit, 3: lambda s: s.modify_order(orders["exit"], Quantity.from_int(2))})
    n.run([s], quotes())
    assert len(s.modify_rejected) == 1  # raised past the holding, it would be an entry - here one beside a loser
    assert n.engine.cache.order(orders["exit"].client_order_id).quantity == 1
    assert n.positions() == FLY_HELD


def test_two_entries_in_one_callback_cannot_open_two_positions_under_one_position_only(node):
    n = node("single_position_0dte")

    def straddle(s):
        return s.limit(STRADDLE, OrderSide.BUY, 1, 20.4)

    s = Hostile({1: lambda s: (straddle(s), straddle(s))}, strategy_id=GAMMA)
    n.run([s], quotes())
    assert s.codes() == ["ONE_POSITION_ONLY"]
    assert n.positions() == {C.id.symbol.value: 1.0, P.id.symbol.value: 1.0}


def test_an_order_list_of_two_exits_each_fine_alone_is_denied_whole(node):
    n = node()

    def two_exits(s):
        orders = [
            s.order_factory.limit(FLY.id, OrderSide.SELL, Quantity.from_int(1), Price(-12.4, 2)) for _ in range(2)
        ]
        s.submit_order_list(s.order_factory.create_list(orders))

    s = Hostile({1: enter_fly, 3: two_exits})
    n.run([s], quotes())
    assert len(s.denied) == 2  # both orders of the list
    assert n.positions() == FLY_HELD


# -- 2. "exit" is derived, never taken on trust ----------------------------------------------------------


def test_a_tag_naming_an_exit_grants_nothing(node):
    n = node()

    def tagged_entry(s):
        return s.limit(FLY, OrderSide.BUY, 1, -11.8, tags=package_tags("fly-9", ExitKind.MANUAL))

    s = Hostile({1: kill(n), 2: tagged_entry})
    n.run([s], quotes())
    assert s.codes() == ["KILL_SWITCH"]
    assert n.positions() == {}


def test_reduce_only_grants_nothing(node):
    n = node()

    def reduce_only_entry(s):
        order = s.order_factory.limit(
            STRADDLE.id, OrderSide.BUY, Quantity.from_int(1), Price(20.4, 2), reduce_only=True
        )
        s.submit_order(order)

    s = Hostile({1: kill(n), 2: reduce_only_entry})
    n.run([s], quotes())
    assert len(s.denied) == 1
    assert n.positions() == {}


def test_reducing_the_accounts_net_position_is_no_exit_for_another_strategy(node):
    n = node()
    holder = Hostile({1: enter_fly})
    other = Hostile({2: kill(n), 3: lambda s: s.limit(C, OrderSide.BUY, 1, 10.2)}, strategy_id=THETA_2)
    n.run([holder, other], quotes())
    assert other.codes() == ["KILL_SWITCH"]
    assert n.positions(THETA_2) == {}


def test_a_malformed_tag_is_a_denial_not_an_exception(node):
    n = node()
    sent = {}

    def bad_tag(s):
        sent["order"] = s.limit(FLY, OrderSide.BUY, 1, -11.8, tags=["odte:exit=whenever"])

    s = Hostile({1: bad_tag})
    n.run([s], quotes())
    assert s.codes() == ["MALFORMED_ORDER"]
    assert n.engine.cache.order(sent["order"].client_order_id).status == OrderStatus.DENIED


def test_a_risk_reducing_close_passes_under_the_kill_switch(node):
    """The other side of deriving exits: a real exit is still always allowed (design §15)."""
    n = node()
    s = Hostile({1: enter_fly, 2: kill(n), 3: exit_fly})
    n.run([s], quotes())
    assert s.denied == [] and n.positions() == {}


# -- 3. modifies ---------------------------------------------------------------------------------------------


def test_the_kill_switch_cancels_working_entries(node):
    n = node()
    sent = {}

    def rest_entry(s):
        sent["entry"] = s.limit(FLY, OrderSide.BUY, 1, -20.0)  # a credit nobody pays: it rests

    s = Hostile({1: rest_entry, 2: kill(n)})
    n.run([s], quotes())
    assert n.engine.cache.order(sent["entry"].client_order_id).status == OrderStatus.CANCELED
    assert n.positions() == {}


def test_a_price_modify_of_a_working_entry_is_rechecked_under_a_kill_switch_set_elsewhere(node):
    n = node()
    sent = {}

    def rest_entry(s):
        sent["entry"] = s.limit(FLY, OrderSide.BUY, 1, -20.0)

    def reprice(s):
        return s.modify_order(sent["entry"], price=Price(-11.8, 2))

    s = Hostile({1: rest_entry, 2: kill_elsewhere(n), 3: reprice})
    n.run([s], quotes())
    assert [r.reason.split(":")[0] for r in s.modify_rejected] == ["KILL_SWITCH"]
    assert n.engine.cache.order(sent["entry"].client_order_id).status == OrderStatus.CANCELED
    assert n.positions() == {}


def test_a_token_price_entry_repriced_past_the_open_risk_limit_is_rejected(node):
    n = node()
    sent = {}

    def token_entry(s):
        sent["entry"] = s.limit(STRADDLE, OrderSide.BUY, 2, 0.05)  # 2 x 0.05 x 100 = $10 of open risk

    def reprice(s):
        return s.modify_order(sent["entry"], price=Price(30.0, 2))  # $6,000 > $5,000

    s = Hostile({1: token_entry, 2: reprice}, strategy_id=GAMMA)
    n.run([s], quotes())
    assert [r.reason.split(":")[0] for r in s.modify_rejected] == ["MAX_OPEN_RISK_PER_SYMBOL"]
    assert n.positions() == {}


# -- 4. every path to a venue --------------------------------------------------------------------------------


def test_an_order_sent_straight_to_the_execution_engine_meets_the_kernel(node):
    n = node()

    def straight_to_exec(s):
        send_raw(s, s.order_factory.limit(C.id, OrderSide.SELL, Quantity.from_int(1), Price(10.0, 2)), EXEC_ENDPOINT)

    s = Hostile({1: straight_to_exec})
    n.run([s], quotes())
    assert s.codes() == ["NO_NAKED_SHORT"]
    assert n.positions() == {}


def test_an_emulated_naked_short_is_denied_when_it_is_submitted(node):
    n = node()
    s = Hostile({1: lambda s: s.emulated_limit(C, OrderSide.SELL, 1, 12.0)})
    n.run([s], quotes())
    assert s.codes() == ["NO_NAKED_SHORT"]
    assert n.positions() == {}


def test_an_emulated_entry_released_after_a_kill_switch_is_denied_on_release(node):
    n = node()
    sent = {}

    def emulated_entry(s):
        sent["entry"] = s.emulated_limit(C, OrderSide.BUY, 1, 9.0)  # ask 10.20: held by the emulator

    s = Hostile({1: emulated_entry, 2: kill_elsewhere(n)})
    cheaper = quotes(3, {**BOOK, C: (8.5, 8.8)}, start=(10, 6))  # the ask falls through 9.00: released
    n.run([s], quotes() + cheaper)
    assert s.codes() == ["KILL_SWITCH"]
    assert n.engine.cache.order(sent["entry"].client_order_id).status == OrderStatus.DENIED
    assert n.positions() == {}


def test_a_modify_of_an_emulated_order_is_rechecked(node):
    n = node()
    sent = {}

    def emulated_entry(s):
        sent["entry"] = s.emulated_limit(C, OrderSide.BUY, 1, 9.0)

    def raise_it(s):
        return s.modify_order(sent["entry"], Quantity.from_int(9))

    s = Hostile({1: emulated_entry, 2: raise_it})
    n.run([s], quotes())
    assert [r.reason.split(":")[0] for r in s.modify_rejected] == ["POSITION_SIZE_CAPPED"]
    assert n.engine.cache.order(sent["entry"].client_order_id).quantity == 1


def test_exec_algorithm_children_meet_the_kernel(node):
    """A 9-lot fly split by TWAP into children: each child is an order to a venue, and each meets the kernel."""
    n = node()

    def twap_entry(s):
        order = s.order_factory.market(
            FLY.id,
            OrderSide.BUY,
            Quantity.from_int(9),
            exec_algorithm_id=ExecAlgorithmId("TWAP"),
            exec_algorithm_params={"horizon_secs": 240, "interval_secs": 60},
        )
        s.submit_order(order)

    s = Hostile({1: twap_entry, 3: kill(n)})
    n.run([s], quotes(8), algorithms=[TWAPExecAlgorithm()])
    filled = sum(f.last_qty for f in s.filled if "-LEG-" not in f.client_order_id.value)
    limits = n.book.policy.strategy(THETA)
    assert s.denied  # children after the kill switch, or past a limit
    assert 0 < filled <= limits.max_contracts * 2  # no more than two children before the stop
    assert abs(n.positions()[C.id.symbol.value]) == filled


# -- 5. the book learns from every fill of the node --------------------------------------------------------


def test_a_manual_strategys_loss_counts_against_the_day(node):
    n = node("single_position_0dte", nav=20_000)  # hard stop: 2 % of NAV = $400

    def buy(s):
        return s.limit(STRADDLE, OrderSide.BUY, 1, 20.4)

    def sell(s):
        return s.limit(STRADDLE, OrderSide.SELL, 1, 10.0)

    s = Hostile({1: buy, 3: sell, 5: buy}, strategy_id=GAMMA)
    n.run([s], quotes(3) + quotes(4, LOWER, start=(10, 3)))
    # A $1,040 loss of a strategy no base class knows about reached the hard stop and locked the day.
    assert s.codes() == ["DAY_LOCKED"] and "hard stop" in n.book.state(ny_ns(10, 6)).lock_reason
    assert n.positions() == {}


def test_a_manual_strategys_round_trips_count_against_the_trade_cap(node):
    n = node("single_position_0dte")
    cap = n.book.policy.max_trades_per_day
    rising = [q for m in range(2 * cap + 4) for q in quotes(1, _shifted(m), start=(10, m))]
    script = {}
    for trip in range(cap + 1):
        buy, sell = 1 + 2 * trip, 2 + 2 * trip  # at the touch of those minutes
        script[buy] = lambda s, m=buy: s.limit(STRADDLE, OrderSide.BUY, 1, 20.4 + m)
        script[sell] = lambda s, m=sell: s.limit(STRADDLE, OrderSide.SELL, 1, 20.0 + m)
    s = Hostile(script, strategy_id=GAMMA)
    n.run([s], rising)
    assert "MAX_TRADES_PER_DAY" in s.codes()
    entries = [f for f in s.filled if f.instrument_id == STRADDLE.id and f.order_side == OrderSide.BUY]
    assert len(entries) == cap


def _shifted(minute: int) -> dict:
    """A market where the straddle gains a point a minute: every round trip wins."""
    up = float(minute)
    return {**BOOK, C: (10.0 + up, 10.2 + up), STRADDLE: (20.0 + up, 20.4 + up)}


def test_a_manual_strategy_cannot_add_to_a_loser(node):
    n = node()
    s = Hostile(
        {1: lambda s: s.limit(STRADDLE, OrderSide.BUY, 1, 20.4), 4: lambda s: s.limit(STRANGLE, OrderSide.BUY, 1, 4.2)},
        strategy_id=GAMMA,
    )
    down = {**BOOK, C: (9.0, 9.2), STRADDLE: (18.0, 18.4)}  # -$240: a loser, short of any breaker
    n.run([s], quotes(3) + quotes(3, down, start=(10, 3)))
    assert s.codes() == ["FORBID_ADD_TO_LOSER"]


# -- 6. the EOD flatten reaches every strategy ----------------------------------------------------------------


def test_the_eod_flatten_reaches_strategies_that_keep_no_ledger(node):
    """A manual fly and another strategy's resting order: at 15:45 the node cancels the order, buys the
    fly's shorts back and only then sells its wings; at 15:50 nobody may enter."""
    n = node()
    sent = {}

    def rest(s):
        sent["resting"] = s.limit(STRANGLE, OrderSide.BUY, 1, 0.05)  # fills only if the market collapses

    def late(s):
        return s.limit(STRANGLE, OrderSide.BUY, 1, 4.2)  # 15:50

    fly = Hostile({1: enter_fly})
    other = Hostile({1: rest, 21: late}, strategy_id=GAMMA)
    n.run([fly, other], quotes(30, start=(15, 29)))
    assert n.positions() == {}  # closed from 15:45, whoever opened it
    assert n.engine.cache.order(sent["resting"].client_order_id).status == OrderStatus.CANCELED
    assert other.codes() == ["EOD_FLATTEN_WINDOW"]
    assert n.book.state(ny_ns(15, 50)).day_locked  # and the day is locked, for good
    closes = [f for f in fly.filled if f.ts_event >= ny_ns(15, 45) and "-LEG-" not in f.client_order_id.value]
    sides = [f.order_side for f in closes]
    assert sides == [OrderSide.BUY, OrderSide.BUY, OrderSide.SELL, OrderSide.SELL]  # shorts first: never naked


# -- 7. coverage holds per strategy --------------------------------------------------------------------------


def test_another_strategys_long_does_not_cover_a_short(node):
    n = node()
    wing_holder = Hostile(
        {1: lambda s: s.limit(CW, OrderSide.BUY, 1, 2.1), 3: lambda s: s.limit(CW, OrderSide.SELL, 1, 2.0)},
        strategy_id=THETA_2,
    )
    naked = Hostile({2: lambda s: s.limit(C, OrderSide.SELL, 1, 10.0)})
    n.run([wing_holder, naked], quotes())
    assert naked.codes() == ["NO_NAKED_SHORT"]
    assert wing_holder.denied == []  # and the wing's owner may still close it
    assert n.positions() == {}


# -- 8. what the gate allows, it records ---------------------------------------------------------------------


def test_five_manual_fly_orders_in_one_callback_cannot_pass_the_limits(node):
    n = node()
    s = Hostile({1: lambda s: [s.limit(FLY, OrderSide.BUY, 1, -11.8) for _ in range(5)]})
    n.run([s], quotes())
    assert s.codes() == ["DUPLICATE_POSITION"] * 4  # the first is a live package the moment it is allowed
    assert n.positions()[C.id.symbol.value] == -1


def test_distinct_manual_fly_orders_in_one_callback_meet_the_rate_limit(node):
    n = node()
    flies = [
        FLY,
        spread([(C, -1), (P, -1), (option("C", 5125), 1), (PW, 1)]),
        spread([(C, -1), (P, -1), (CW, 1), (option("P", 5075), 1)]),
    ]
    for extra in flies[1:]:
        n.engine.add_instrument(extra)
        for leg in (option("C", 5125), option("P", 5075)):
            if n.engine.cache.instrument(leg.id) is None:
                n.engine.add_instrument(leg)
    book = {
        **BOOK,
        option("C", 5125): (1.5, 1.6),
        option("P", 5075): (1.5, 1.6),
        flies[1]: (-12.4, -11.8),
        flies[2]: (-12.4, -11.8),
    }
    s = Hostile({1: lambda s: [s.limit(fly, OrderSide.BUY, 1, -11.0) for fly in flies]})
    n.run([s], quotes(book=book))
    per_minute = n.book.policy.rate_limits.packages_per_minute_per_strategy
    assert s.codes() == ["RATE_LIMIT_STRATEGY"] * (len(flies) - per_minute)
    assert n.positions()[C.id.symbol.value] == -per_minute


def test_a_four_fly_order_list_cannot_pass_the_limits(node):
    n = node()

    def four_flies(s):
        orders = [s.order_factory.limit(FLY.id, OrderSide.BUY, Quantity.from_int(1), Price(-11.8, 2)) for _ in range(4)]
        s.submit_order_list(s.order_factory.create_list(orders))

    s = Hostile({1: four_flies})
    n.run([s], quotes())
    assert len(s.denied) == 4  # all or nothing
    assert n.positions() == {}


def test_an_unlisted_strategy_may_close_but_never_open(node):
    n = node()
    s = Hostile({1: lambda s: s.limit(STRANGLE, OrderSide.BUY, 1, 4.2)}, strategy_id=MANUAL)
    n.run([s], quotes())
    assert s.codes() == ["UNKNOWN_STRATEGY"]


def test_the_node_flattens_again_on_the_next_session(node):
    """The guard sets its alert anew for every session, not only the first."""
    monday = date(2024, 3, 18)
    n = node()
    legs = {
        option(r, k, monday): (b, a)
        for (r, k), (b, a) in {
            ("C", 5100): (10.0, 10.2),
            ("P", 5100): (10.0, 10.2),
            ("C", 5120): (2.0, 2.1),
            ("P", 5080): (2.0, 2.1),
        }.items()
    }
    fly = spread(
        [
            (option("C", 5100, monday), -1),
            (option("P", 5100, monday), -1),
            (option("C", 5120, monday), 1),
            (option("P", 5080, monday), 1),
        ]
    )
    for instrument in (*legs, fly):
        n.engine.add_instrument(instrument)
    book = {**legs, fly: (-12.4, -11.8)}
    trigger = option("C", 5100, monday)
    s = Hostile({1: lambda s: s.limit(fly, OrderSide.BUY, 1, -11.8)}, trigger=trigger)
    n.run([s], quotes(3, start=(10, 0)) + minute_quotes(book, range(30), start=(15, 29), day=monday))
    assert n.positions() == {}


def test_a_denied_order_list_leaves_no_phantom_package(node):
    n = node()

    def fly_and_naked_call(s):
        orders = [
            s.order_factory.limit(FLY.id, OrderSide.BUY, Quantity.from_int(1), Price(-11.8, 2)),
            s.order_factory.limit(C.id, OrderSide.SELL, Quantity.from_int(1), Price(10.0, 2)),
        ]
        s.submit_order_list(s.order_factory.create_list(orders))

    s = Hostile({1: fly_and_naked_call, 2: enter_fly})
    n.run([s], quotes())
    assert len(s.denied) == 2
    assert n.positions() == FLY_HELD  # the list's fly was forgotten: the second one is no duplicate


def test_another_strategys_working_buy_back_does_not_make_an_exit_an_entry(node):
    n = node()
    holder = Hostile({1: enter_fly, 3: kill(n), 4: exit_fly})
    bidder = Hostile({2: lambda s: s.limit(C, OrderSide.BUY, 1, 0.05)}, strategy_id=THETA_2)  # rests
    n.run([holder, bidder], quotes())
    assert holder.denied == [] and n.positions(THETA) == {}


def test_the_kill_switch_cancels_a_working_entry_of_a_strategy_not_on_the_node(node):
    n = node()
    sent = {}

    def stranger_rests(s):
        factory = OrderFactory(s.trader_id, StrategyId("ThetaHarvester-007"), s.clock)
        sent["order"] = factory.limit(FLY.id, OrderSide.BUY, Quantity.from_int(1), Price(-20.0, 2))
        send_raw(s, sent["order"], "RiskEngine.execute")

    n.run([Hostile({1: stranger_rests, 2: kill(n)})], quotes())
    assert n.engine.cache.order(sent["order"].client_order_id).status == OrderStatus.CANCELED


def test_a_cancelled_manual_entry_leaves_no_phantom_package(node):
    n = node()
    sent = {}

    def rest(s):
        sent["order"] = s.limit(STRANGLE, OrderSide.BUY, 1, 0.05)

    s = Hostile(
        {1: rest, 2: lambda s: s.cancel_order(sent["order"]), 3: lambda s: s.limit(STRANGLE, OrderSide.BUY, 1, 4.2)},
        strategy_id=GAMMA,
    )
    n.run([s], quotes())
    assert s.denied == [] and n.positions() == {CW.id.symbol.value: 1.0, PW.id.symbol.value: 1.0}


# -- 7. a live node queues commands: the strategy's own package view arrives before its entry -----------


def _pretracked_entry(n: Node, package: str, orders: int = 1):
    """What a ledger-keeping strategy does on a live node: submit, then track its package as PENDING_ENTRY,
    before Nautilus's queued engines bring the command to the gate (here: tracked first, then submitted)."""

    def step(s: Hostile) -> None:
        sent = [
            s.order_factory.limit(
                FLY.id, OrderSide.BUY, Quantity.from_int(1), Price(-11.8, 2), tags=package_tags(package)
            )
            for _ in range(orders)
        ]
        n.book.track([_pending_view(n.runtime.gate._intent(sent[0], 1, None))])
        for order in sent:
            s.submit_order(order)

    return step


def test_a_live_entry_whose_package_its_strategy_already_tracks_is_not_refused_as_not_flat(node):
    n = node()
    s = Hostile({1: _pretracked_entry(n, "ThetaHarvester-001-20240315-1")})
    n.run([s], quotes())
    assert s.codes() == []
    assert n.positions(THETA) == FLY_HELD


def test_a_second_entry_for_a_package_already_entering_is_still_not_flat(node):
    n = node()
    s = Hostile({1: _pretracked_entry(n, "ThetaHarvester-001-20240315-1", orders=2)})
    n.run([s], quotes())
    assert s.codes() == ["NOT_FLAT"]
    assert n.positions(THETA) == FLY_HELD
