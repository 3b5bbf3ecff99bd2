"""The kernel in Nautilus's command path (DESIGN decision 3).

Every order command — a strategy's, a manual one, ``close_all_positions`` — is sent to the message-bus
endpoint ``RiskEngine.execute``. The gate takes that endpoint over, asks the risk kernel about each order
and either passes the command on to Nautilus's own RiskEngine (which keeps doing its rate and precision
checks) or denies it there, so the strategy receives ``OrderDenied`` whose reason starts with the
kernel's reason code. Strategies also ask the kernel before they build an order; the gate is what holds
when they do not.
"""

from __future__ import annotations

from collections.abc import Callable

from nautilus_trader.execution.messages import ModifyOrder, SubmitOrder, SubmitOrderList

from odte_nautilus.orders import UnknownInstrument, holdings_from_cache, order_to_intent
from odte_nautilus.risk.decision import Decision
from odte_nautilus.risk.model import Holding, Intent

ENDPOINT = "RiskEngine.execute"

# decide(intent, holdings) -> Decision: the risk book's check against the engine's own positions.
Decide = Callable[[Intent, dict[str, Holding]], Decision]


def denial_reason(decision: Decision) -> str:
    """The text of an ``OrderDenied``: the code first, so it can be read back by machines and people."""
    return f"{decision.code.value}: {decision.reason}"


class EngineGate:
    """Owns the ``RiskEngine.execute`` endpoint of one Nautilus kernel (backtest or live)."""

    def __init__(self, kernel, decide: Decide) -> None:
        self._risk = kernel.risk_engine
        self._cache = kernel.cache
        self._clock = kernel.clock
        self._msgbus = kernel.msgbus
        self._decide = decide
        self.denied = 0

    def install(self) -> EngineGate:
        self._msgbus.deregister(ENDPOINT, self._risk.execute)
        self._msgbus.register(ENDPOINT, self.execute)
        return self

    def execute(self, command) -> None:
        if isinstance(command, SubmitOrder):
            reason = self._refusal(command.order)
        elif isinstance(command, SubmitOrderList):
            reason = next(filter(None, (self._refusal(o) for o in command.order_list.orders)), None)
        elif isinstance(command, ModifyOrder):
            reason = self._modify_refusal(command)
            if reason is not None:
                # Nautilus cannot deny a modify; the order stays as it was and the modify is dropped.
                self._risk._log.warning(f"ModifyOrder for {command.client_order_id} DENIED: {reason}")
                self.denied += 1
                return
        else:
            reason = None
        if reason is None:
            self._risk.execute(command)
        else:
            self.denied += 1
            self._risk._deny_command(command, reason)

    def _refusal(self, order, quantity: int | None = None) -> str | None:
        try:
            intent = order_to_intent(order, self._cache, self._clock.timestamp_ns(), quantity)
        except UnknownInstrument as exc:
            return f"UNKNOWN_INSTRUMENT: {exc}"
        decision = self._decide(intent, holdings_from_cache(self._cache))
        if not decision.allowed:
            return denial_reason(decision)
        if decision.size < intent.quantity:
            return f"{decision.code.value}: allowed {decision.size} of {intent.quantity}: {decision.reason}"
        return None

    def _modify_refusal(self, command: ModifyOrder) -> str | None:
        """A modify that raises the quantity is a new entry for the difference; anything else passes."""
        order = self._cache.order(command.client_order_id)
        if order is None or command.quantity is None or command.quantity <= order.quantity:
            return None
        return self._refusal(order, int(command.quantity - order.quantity))
