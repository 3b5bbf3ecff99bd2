"""What a node shares between its strategies: the risk book, the run recorder and the data services.

A backtest engine and a live ``TradingNode`` both own a Nautilus kernel. ``attach`` puts the engine gate on
that kernel's command path and registers the shared services under the kernel's trader id; a strategy
finds them in ``on_start``. The strategy never learns whether it runs in a backtest or live: it only sees
this runtime (docs/design.md: the same strategy and risk code in both).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING

from odte_nautilus.gate import EngineGate
from odte_nautilus.node_guard import NodeGuard
from odte_nautilus.recorder import RunRecorder
from odte_nautilus.risk.book import RiskBook

if TYPE_CHECKING:
    from nautilus_trader.system.kernel import NautilusKernel

    from odte_nautilus.strategies.chain import OptionChain


class RuntimeMissing(RuntimeError):
    """A strategy started on a node that has no risk gate: it must not trade."""


def _no_open_interest(day: date) -> dict[str, int]:
    return {}


@dataclass
class Runtime:
    book: RiskBook
    gate: EngineGate
    recorder: RunRecorder = field(default_factory=RunRecorder)
    open_interest: Callable[[date], dict[str, int]] = _no_open_interest  # instrument id -> contracts
    # A backtest engine puts every replayed quote in the cache, subscribed or not; a live node's cache holds only
    # what was subscribed. A strategy subscribes to quotes it only reads from the cache (the at-the-money watch)
    # where the cache would lack them otherwise: in a backtest each such subscription made the message bus scan
    # every topic it had seen, and each subscribed quote called into the strategy (a quarter of its cost).
    cache_holds_every_quote: bool = False
    _chains: dict[tuple[str, date], OptionChain] = field(default_factory=dict)  # see ``chain_of``

    def chain_of(self, underlying: str, day: date, build: Callable[[], OptionChain]) -> OptionChain:
        """Today's option chain of ``underlying``, built by the first strategy to ask and shared with the others.

        Building it scans every option the cache holds (a backtest's cache keeps every day run so far); a chain
        is only read once built. Earlier days' chains are dropped when a new day's is built.
        """
        key = (underlying, day)
        chain = self._chains.get(key)
        if chain is None:
            self._chains = {k: v for k, v in self._chains.items() if k[1] == day}
            chain = self._chains[key] = build()
        return chain


_RUNTIMES: dict[str, Runtime] = {}


def attach(
    kernel: NautilusKernel,
    book: RiskBook,
    recorder: RunRecorder | None = None,
    open_interest: Callable[[date], dict[str, int]] | None = None,
    cache_holds_every_quote: bool = False,
) -> Runtime:
    """Install the engine gate on ``kernel`` and register the runtime its strategies will find."""
    gate = EngineGate(kernel, book).install()
    kernel.trader.add_actor(NodeGuard(gate))
    runtime = Runtime(
        book, gate, recorder or RunRecorder(), open_interest or _no_open_interest, cache_holds_every_quote
    )
    _RUNTIMES[kernel.trader_id.value] = runtime
    return runtime


def detach(kernel: NautilusKernel) -> None:
    _RUNTIMES.pop(kernel.trader_id.value, None)


def runtime_for(trader_id: str) -> Runtime:
    try:
        return _RUNTIMES[trader_id]
    except KeyError:
        raise RuntimeMissing(
            f"no odte runtime for trader {trader_id}: strategies must run under `odte backtest` or `odte live`, "
            "which install the risk gate (odte_nautilus.runtime.attach) before the strategies start"
        ) from None
