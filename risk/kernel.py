"""The pre-trade risk kernel: an intent and the risk state in, one decision out (DESIGN decisions 2-4).

Pure: it imports nothing from Nautilus, never mutates the state and keeps no memory of past checks
beyond a cache of the policy's per-strategy limits. The risk book asks it before every order; the engine
gate asks it for every order command, whoever sent it.

How the rules compose (``rules.ENTRY_RULES`` / ``rules.EXIT_RULES``, run in order):
- the first refusal wins and is returned as is (naming any size adjustments made before it);
- a size adjuster's allowed decision resizes the intent, and every later rule sees the new size;
- when all rules pass, the decision carries the final size; if sizes were adjusted, its code is the first
  adjustment's and its reason lists every adjustment - the adjusted size is part of the decision, never
  a side effect.
"""

from __future__ import annotations

from odte_nautilus.risk.decision import Decision
from odte_nautilus.risk.model import Intent, RiskState
from odte_nautilus.risk.policy import RiskPolicy, StrategyLimits, strategy_key
from odte_nautilus.risk.rules import ENTRY_RULES, EXIT_RULES, CheckContext

ENTRY_ALLOWED = "all entry rules passed"
EXIT_ALLOWED = "exit allowed: risk-reducing, leaves no naked short and reverses no holding"


class Kernel:
    """One policy's kernel: ``check(intent, state) -> Decision``, the same answer for the same question."""

    def __init__(self, policy: RiskPolicy) -> None:
        self.policy = policy
        self._strategies: dict[str, tuple[str, StrategyLimits | None]] = {}

    def check(self, intent: Intent, state: RiskState) -> Decision:
        key, limits = self._strategy(intent.strategy_id)
        context = CheckContext(intent, state, self.policy, key, limits)
        adjustments: list[Decision] = []
        for rule in ENTRY_RULES if intent.is_entry else EXIT_RULES:
            decision = rule(context)
            if decision is None:
                continue
            if not decision.allowed:
                return _after(decision, adjustments)
            adjustments.append(decision)
            context.resize(decision.size)
        if not adjustments:
            return Decision.allow(intent.quantity, reason=ENTRY_ALLOWED if intent.is_entry else EXIT_ALLOWED)
        reason = "; ".join(a.reason for a in adjustments)
        return Decision.allow(context.intent.quantity, adjustments[0].code, reason)

    def _strategy(self, strategy_id: str) -> tuple[str, StrategyLimits | None]:
        """The policy key and limits of a strategy id, looked up once per id (the mapping is not free)."""
        found = self._strategies.get(strategy_id)
        if found is None:
            found = self._strategies[strategy_id] = (strategy_key(strategy_id), self.policy.strategy(strategy_id))
        return found


def _after(refusal: Decision, adjustments: list[Decision]) -> Decision:
    """A refusal that came after size adjustments says so: its numbers were computed on the adjusted size."""
    if not adjustments:
        return refusal
    sized = "; ".join(a.reason for a in adjustments)
    return Decision.refuse(refusal.code, f"{refusal.reason} (after sizing: {sized})")
