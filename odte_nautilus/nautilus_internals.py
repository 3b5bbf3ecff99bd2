"""Every use of NautilusTrader internals, in one place, each with why (tests/contract/test_nautilus_internals.py).

The gate must sit where *every* order reaches an execution client, and Nautilus 1.231 has no public hook
for that (its kernel hard-codes its RiskEngine). What we rely on, and what a Nautilus upgrade can break:

- the message-bus endpoints ``ExecEngine.execute`` (the last hop before the execution clients: the
  RiskEngine forwards there, the OrderEmulator releases there, exec-algorithm children arrive there) and
  ``OrderEmulator.execute`` (emulated orders are submitted and modified there, never seeing the
  RiskEngine) - we take both over;
- ``RiskEngine._deny_command`` and ``_reject_modify_order``, the engine's own deny and modify-reject
  paths, so a sender receives ``OrderDenied`` / ``OrderModifyRejected`` as from Nautilus itself;
- ``OrderDenied`` for a RELEASED (emulated, then released) order, which ``_deny_order`` ignores;
- the ``<parent>-LEG-<symbol>`` client order ids of the backtester's synthetic leg fills, and the
  ``<venue>-LEG-`` ids of its expiry settlements;
- the endpoint ``ExecEngine.process``, where the backtester sends a package's leg fills, all in the same call
  and after the package's own fill - the backtest's leg pricer (``leg_fill_pricer.py``) takes it over
  (held by tests/integration/test_backtest_run.py: without it the run's fill check fails);
- the name ``LiveClock`` in ``nautilus_trader.system.kernel``, which a live kernel instantiates for itself and
  whose class it gives every component: a compressed simulator session swaps in ``TestClock`` while its node
  is built (``live/session_clock.py``), so replayed time drives the whole node;
- the live ``DataEngine``'s package quotes (``SpreadQuoteAggregator``): in 1.231 the engine hands each one to
  ``process(quote, historical)``, which ``LiveDataEngine.process(data)`` does not accept.
  ``enable_live_spread_quotes`` gives the engine a ``process`` that takes both, so a package quote reaches
  the strategies live as in the backtest. The engine also hands each package quote to its venue's simulated
  exchange (``SimulatedExchange.process_new_quote.<venue>``, a sandbox's): a live venue has none, and a send
  to no endpoint logged an ERROR per package quote (thousands a session), so the fix answers it with
  nothing for each package's venue. It also seeds a new aggregator (``_spread_quote_aggregators``,
  ``_setup_spread_quote_aggregator``) with its legs' last quotes from the cache: a live leg already
  subscribed (an at-the-money option the strategies watch) quotes again only when it changes, where the
  backtest replays every leg's quote each minute.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import nautilus_trader.system.kernel as kernel_module
from nautilus_trader.common.component import TestClock
from nautilus_trader.core.uuid import UUID4
from nautilus_trader.execution.messages import SubmitOrder, SubmitOrderList
from nautilus_trader.model.enums import OrderStatus
from nautilus_trader.model.events import OrderDenied
from nautilus_trader.model.identifiers import ClientId

if TYPE_CHECKING:
    from nautilus_trader.cache.cache import Cache
    from nautilus_trader.common.component import Clock, MessageBus
    from nautilus_trader.core.data import Data
    from nautilus_trader.core.message import Command
    from nautilus_trader.live.data_engine import LiveDataEngine
    from nautilus_trader.model.identifiers import InstrumentId
    from nautilus_trader.model.orders import Order
    from nautilus_trader.risk.engine import RiskEngine
    from nautilus_trader.system.kernel import NautilusKernel

EXEC_ENDPOINT = "ExecEngine.execute"
EMULATOR_ENDPOINT = "OrderEmulator.execute"
PROCESS_ENDPOINT = "ExecEngine.process"
LEG_MARK = "-LEG-"


def take_over_endpoint(
    msgbus: MessageBus, endpoint: str, original: Callable[[Command], None], replacement: Callable[[Command], None]
) -> Callable[[Command], None]:
    """Register ``replacement`` at ``endpoint`` in place of ``original`` (the component's own ``execute``,
    as the engines register it); returns ``original`` for the replacement to forward to."""
    msgbus.deregister(endpoint, original)
    msgbus.register(endpoint, replacement)
    return original


def deny(
    risk_engine: RiskEngine, msgbus: MessageBus, clock: Clock, command: SubmitOrder | SubmitOrderList, reason: str
) -> None:
    """``OrderDenied`` for every order of a submit command, as Nautilus's RiskEngine sends it."""
    orders = command.order_list.orders if isinstance(command, SubmitOrderList) else [command.order]
    for order in orders:
        if order.status == OrderStatus.RELEASED:
            msgbus.send(
                PROCESS_ENDPOINT,
                OrderDenied(
                    trader_id=order.trader_id,
                    strategy_id=order.strategy_id,
                    instrument_id=order.instrument_id,
                    client_order_id=order.client_order_id,
                    reason=reason,
                    event_id=UUID4(),
                    ts_init=clock.timestamp_ns(),
                ),
            )
        elif not order.is_closed:
            risk_engine._deny_order(order, reason)


def reject_modify(risk_engine: RiskEngine, order: Order, reason: str) -> None:
    """``OrderModifyRejected``: the order returns from PENDING_UPDATE as it was, and its sender learns why."""
    risk_engine._reject_modify_order(order, reason)


def leg_parent(client_order_id: str) -> str | None:
    """The package order a synthetic leg fill belongs to; None for other ids and for expiry settlements."""
    parent, mark, _ = client_order_id.partition(LEG_MARK)
    if not mark or "-" not in parent:  # a settlement: <venue>-LEG-..., EXPIRATION-LEG-...
        return None
    return parent


def is_leg_fill(client_order_id: str) -> bool:
    return LEG_MARK in client_order_id


def is_submit(command: Command) -> bool:
    return isinstance(command, SubmitOrder | SubmitOrderList)


@contextmanager
def live_kernel_clock() -> Iterator[None]:
    """While open, a live ``NautilusKernel`` built here gets a ``TestClock`` (and so do its components)."""
    original = kernel_module.LiveClock
    kernel_module.LiveClock = TestClock
    try:
        yield
    finally:
        kernel_module.LiveClock = original


def data_client(kernel: NautilusKernel, name: str) -> object | None:
    """A live node's data client by name (the engine's ``_clients``, readable from Python)."""
    return kernel.data_engine._clients.get(ClientId(name))


SANDBOX_QUOTES = "SimulatedExchange.process_new_quote"  # + ".<venue>": where 1.231 sends a package quote first


def exec_client(kernel: NautilusKernel, name: str) -> object | None:
    """A live node's execution client by name (the engine's ``_clients``, readable from Python)."""
    return kernel.exec_engine._clients.get(ClientId(name))


def enable_live_spread_quotes(data_engine: LiveDataEngine, cache: Cache, msgbus: MessageBus) -> None:
    """Let the live data engine deliver aggregated package quotes (see the module docstring)."""
    queue, setup = data_engine.process, data_engine._setup_spread_quote_aggregator

    def process(data: Data, historical: bool = False) -> None:
        queue(data)

    def setup_seeded(spread_id: InstrumentId, historical: bool = False, request_id: UUID4 | None = None) -> None:
        setup(spread_id, historical, request_id)
        if historical:
            return
        sandbox = f"{SANDBOX_QUOTES}.{spread_id.venue}"
        if sandbox not in msgbus.endpoints():
            msgbus.register(sandbox, lambda _quote: None)
        for (aggregated, _), aggregator in data_engine._spread_quote_aggregators.items():
            if aggregated != spread_id:
                continue
            for leg_id, _ratio in aggregator._legs:
                quote = cache.quote_tick(leg_id)
                if quote is not None:
                    aggregator.handle_quote_tick(quote)

    # Cython's cpdef dispatch reads these instance attributes (LiveDataEngine is a Python subclass).
    data_engine.process = process  # type: ignore[method-assign]
    data_engine._setup_spread_quote_aggregator = setup_seeded
