"""Random order flows from several strategies through a real engine with the node attached.

Hypothesis writes the script: three plain Nautilus strategies (two listed in the risk profile, one not)
send entries, exits, resting orders, modifies, cancels (some racing their own fills), order lists,
``close_all_positions``, commands straight to the execution engine, and somebody engages the kill switch.
After every fill and at every quiet moment (each minute's first quote), the engine's own positions and
working orders are checked:

- no naked short, per strategy and per account, at any quiet moment;
- no fill carries a strategy's holding through zero;
- after the kill switch, no order sent after it opens or adds to a position.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from nautilus_trader.cache.cache import Cache
from nautilus_trader.common.actor import Actor
from nautilus_trader.config import ActorConfig
from nautilus_trader.model.enums import OrderSide
from nautilus_trader.model.events import OrderFilled
from nautilus_trader.model.identifiers import InstrumentId, is_generic_spread_id
from nautilus_trader.model.objects import Price, Quantity

from odte_nautilus.gate import EngineGate
from odte_nautilus.nautilus_internals import EXEC_ENDPOINT
from odte_nautilus.runtime import runtime_for
from tests import strategy_kit as kit
from tests.engine_kit import Step, send_raw
from tests.integration.test_gate_adversarial import (
    BOOK,
    CW,
    FLY,
    GAMMA,
    LOWER,
    MANUAL,
    PW,
    STRADDLE,
    THETA,
    THETA_2,
    C,
    Hostile,
    Node,
    P,
    quotes,
)

LEGS = [C, P, CW, PW]
STRATEGIES = [THETA, THETA_2, GAMMA, MANUAL]


def _limit(s, instrument, side, qty, price):
    return s.order_factory.limit(instrument.id, side, Quantity.from_int(qty), Price(price, 2))


def _touch(instrument, side) -> float:
    bid, ask = BOOK[instrument]
    return ask if side == OrderSide.BUY else bid


ACTIONS = {
    "fly_entry": lambda s, a: s.submit_order(_limit(s, FLY, OrderSide.BUY, a.qty, -11.8)),
    "fly_rest": lambda s, a: s.submit_order(_limit(s, FLY, OrderSide.BUY, a.qty, -20.0)),
    "fly_exit": lambda s, a: s.submit_order(_limit(s, FLY, OrderSide.SELL, a.qty, -12.4)),
    "fly_exit_rest": lambda s, a: s.submit_order(_limit(s, FLY, OrderSide.SELL, a.qty, -5.0)),
    "straddle_sell": lambda s, a: s.submit_order(_limit(s, STRADDLE, OrderSide.SELL, a.qty, 20.0)),
    "leg": lambda s, a: s.submit_order(_limit(s, a.leg, a.side, a.qty, _touch(a.leg, a.side))),
    "leg_rest": lambda s, a: s.submit_order(_limit(s, a.leg, a.side, a.qty, 0.05 if a.side == OrderSide.BUY else 50.0)),
    "modify_qty": lambda s, a: _on_last(s, lambda o: s.modify_order(o, Quantity.from_int(int(o.quantity) + a.qty))),
    "modify_price": lambda s, a: _on_last(s, lambda o: s.modify_order(o, price=_marketable(o))),
    "cancel": lambda s, a: _on_last(s, s.cancel_order),
    "fill_then_cancel": lambda s, a: _fill_then_cancel(s, a),
    "list": lambda s, a: s.submit_order_list(
        s.order_factory.create_list(
            [_limit(s, FLY, a.side, 1, -11.8 if a.side == OrderSide.BUY else -12.4) for _ in range(2)]
        )
    ),
    "close_all": lambda s, a: s.close_all_positions(a.leg.id),
    "straight_to_exec": lambda s, a: _straight(s, _limit(s, a.leg, a.side, a.qty, _touch(a.leg, a.side))),
}


def _both(first: Step, then: Step) -> Step:
    """Two actions at the same scripted minute, in order."""
    return lambda s: (first(s), then(s))


def _on_last(s, act) -> None:
    working = [o for o in s.cache.orders_open(strategy_id=s.id)]
    if working:
        act(working[-1])


def _marketable(order) -> Price:
    if order.instrument_id == FLY.id:
        return Price(-11.8 if order.side == OrderSide.BUY else -12.4, 2)
    instrument = next(i for i in LEGS if i.id == order.instrument_id)
    return Price(_touch(instrument, order.side), 2)


def _fill_then_cancel(s, a) -> None:
    order = _limit(s, a.leg, a.side, a.qty, _touch(a.leg, a.side))
    s.submit_order(order)
    s.cancel_order(order)  # races its own fill


def _straight(s, order) -> None:
    send_raw(s, order, EXEC_ENDPOINT)


@dataclass(frozen=True)
class Action:
    minute: int
    strategy: int
    name: str
    qty: int
    leg: object
    side: OrderSide


actions = st.builds(
    Action,
    minute=st.integers(1, 9),
    strategy=st.integers(0, len(STRATEGIES) - 1),
    name=st.sampled_from([*ACTIONS, "kill"]),
    qty=st.integers(1, 2),
    leg=st.sampled_from(LEGS),
    side=st.sampled_from([OrderSide.BUY, OrderSide.SELL]),
)


@dataclass
class Watcher:
    """Checks the engine's own books after every fill and at every quiet moment."""

    gate: EngineGate  # its exposure reads the engine's cache
    cache: Cache
    violations: list[str] = field(default_factory=list)
    kill_ns: int | None = None
    net: dict = field(default_factory=dict)  # (strategy, instrument) -> contracts

    def on_fill(self, fill: OrderFilled) -> None:
        if is_generic_spread_id(fill.instrument_id):
            return  # a package fill: its legs follow as leg fills
        change = int(fill.last_qty) * (1 if fill.order_side == OrderSide.BUY else -1)
        book = fill.strategy_id.value  # reversal is a rule of one book (the account may pass zero as books close)
        key = (book, fill.instrument_id.value)
        before = self.net.get(key, 0)
        after = self.net[key] = before + change
        if before * after < 0:
            self.violations.append(f"{fill.ts_event}: {book} {key[1]} {before:+d} -> {after:+d}")
        if self.kill_ns is not None and abs(after) > abs(before) and self._sent_after_kill(fill):
            self.violations.append(f"{fill.ts_event}: {book} added {change:+d} {key[1]} after the kill switch")

    def _sent_after_kill(self, fill: OrderFilled) -> bool:
        cid = fill.client_order_id.value.split("-LEG-")[0]
        order = self.cache.order(type(fill.client_order_id)(cid))
        return order is not None and order.ts_init > self.kill_ns

    def quiet(self, now_ns: int) -> None:
        exposure = self.gate.exposure
        exposure.invalidate()
        snapshot = exposure.snapshot()
        for name, book in [("account", snapshot.account), *snapshot.strategies.items()]:
            cover: dict = {}
            for h in book.values():
                group = (h.contract.underlying, h.contract.right)
                cover[group] = cover.get(group, 0) + h.quantity
            for group, net in cover.items():
                if net < 0:
                    self.violations.append(f"{now_ns}: {name} has {-net} naked short {group}")


class WatcherActor(Actor):
    def __init__(self, watcher: Watcher, quiet_on=C.id) -> None:
        super().__init__(ActorConfig(component_id="Watcher"))
        self.watcher = watcher
        self.quiet_on = quiet_on

    def on_start(self) -> None:
        self.subscribe_quote_ticks(self.quiet_on)
        self.msgbus.subscribe("events.order.*", self._on_order_event)

    def _on_order_event(self, event) -> None:
        if isinstance(event, OrderFilled):
            self.watcher.on_fill(event)

    def on_quote_tick(self, tick) -> None:
        self.watcher.quiet(tick.ts_event)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)
@given(script=st.lists(actions, min_size=1, max_size=14))
def test_no_order_flow_breaks_an_invariant_in_the_engine(tmp_path_factory, script):
    node = Node(tmp_path_factory.mktemp("flow"))
    watcher = Watcher(node.runtime.gate, node.engine.cache)

    def kill(s):
        watcher.kill_ns = s.clock.timestamp_ns()
        node.book.kill(by="property", reason="random", now_ns=watcher.kill_ns)

    plans: list[dict] = [{} for _ in STRATEGIES]
    for action in script:
        act: Step = kill if action.name == "kill" else partial(ACTIONS[action.name], a=action)
        previous = plans[action.strategy].get(action.minute)
        plans[action.strategy][action.minute] = act if previous is None else _both(previous, act)
    strategies = [Hostile(plan, strategy_id=sid) for plan, sid in zip(plans, STRATEGIES, strict=True)]
    node.engine.add_actor(WatcherActor(watcher))
    try:
        node.run(strategies, quotes(5) + quotes(6, LOWER, start=(10, 5)))
    finally:
        node.close()
    assert watcher.violations == []


# -- the project's own strategy on the node, among hostile ones ----------------------------------------------

KIT_LEGS = [kit.C(5550), kit.P(5550), kit.C(5565), kit.P(5535)]


def _kit_touch(key: tuple, side: OrderSide) -> float:
    bid, ask = kit.opening_quote(*key)
    return ask if side == OrderSide.BUY else bid


def _kit_action(s, a: Action) -> None:
    """The plain strategies' actions on single legs of the scripted chain (packages are the harvester's)."""
    key = KIT_LEGS[LEGS.index(a.leg)]
    iid = InstrumentId.from_str(kit.option_id(key))
    if a.name in ("modify_qty", "cancel"):
        ACTIONS[a.name](s, a)
        return
    if a.name == "modify_price":
        _on_last(s, lambda o: s.modify_order(o, price=Price(_kit_touch(key, o.side), 2)))
        return
    if a.name == "close_all":
        s.close_all_positions(iid)
        return
    rest = a.name.endswith("rest")
    price = (0.05 if a.side == OrderSide.BUY else 50.0) if rest else _kit_touch(key, a.side)
    order = s.order_factory.limit(iid, a.side, Quantity.from_int(a.qty), Price(price, 2))
    if a.name == "straight_to_exec":
        _straight(s, order)
    else:
        s.submit_order(order)
        if a.name == "fill_then_cancel":
            s.cancel_order(order)


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)
@given(script=st.lists(actions, min_size=1, max_size=10))
def test_no_order_flow_breaks_an_invariant_beside_a_theta_harvester(tmp_path_factory, script):
    """The Theta Harvester trades its flies (entries from 10:00, stops, the EOD flatten) while plain
    strategies send single-leg orders, modifies, cancels and bypasses, and somebody pulls the kill switch."""
    harvester = kit.theta_harvester()
    plans: list[dict] = [{} for _ in STRATEGIES[1:]]
    kills: dict[int, int] = {}
    for action in script:
        if action.name == "kill":
            kills[action.minute] = 1
            continue
        slot = action.strategy % len(plans)
        act = partial(_kit_action, a=action)
        previous = plans[slot].get(action.minute)
        plans[slot][action.minute] = act if previous is None else _both(previous, act)
    trigger = kit.C(5550)
    hostiles = [
        Hostile(plan, strategy_id=sid, trigger=_Key(trigger)) for plan, sid in zip(plans, STRATEGIES[1:], strict=True)
    ]
    day = kit.start_day(tmp_path_factory.mktemp("kit-flow"), kit.Market(), [harvester, *hostiles])
    gate = runtime_for(day.engine.kernel.trader_id.value).gate
    watcher = Watcher(gate, day.cache)

    def kill_at(s) -> None:
        watcher.kill_ns = s.clock.timestamp_ns()
        day.book.kill(by="property", reason="random", now_ns=watcher.kill_ns)

    for minute in kills:
        hostiles[0].script[minute] = (
            kill_at if minute not in hostiles[0].script else _both(hostiles[0].script[minute], kill_at)
        )
    day.engine.add_actor(WatcherActor(watcher, quiet_on=InstrumentId.from_str(kit.option_id(trigger))))
    try:
        day.run()
    finally:
        day.close()
    assert watcher.violations == []


@dataclass(frozen=True)
class _Key:
    """An instrument id holder for ``Hostile``'s trigger (it reads ``.id``)."""

    key: tuple

    @property
    def id(self) -> InstrumentId:
        return InstrumentId.from_str(kit.option_id(self.key))
