"""The pre-trade risk kernel: an intent and the risk state in, one decision out (design §2-4).

Pure: it imports nothing from Nautilus, never mutates what it reads and keeps no memory of past checks
beyond caches of what never changes for its policy (per-strategy limits, the allowed decisions).
The risk book asks it before every order; the engine gate asks it for every order command, whoever
sent it.

How the rules compose (``rules.ENTRY_RULES`` / ``rules.EXIT_RULES``, run in order, minus the rules this
kernel's policy can never fire):
- the first refusal wins and is returned as is (naming any size adjustments made before it);
- a size adjuster's allowed decision resizes the intent, and every later rule sees the new size;
- when all rules pass, the decision carries the final size; if sizes were adjusted, its code is the first
  adjustment's and its reason lists every adjustment - the adjusted size is part of the decision, never
  a side effect.

Budget (``benchmarks/bench_kernel.py``): median 5 us, p99 25 us per check. A passing check therefore
allocates almost nothing: the facts come from the state's index and the intent's shape, and its
``Decision`` is a shared immutable value.
"""

from __future__ import annotations

from functools import lru_cache

from odte_nautilus.risk.decision import Decision
from odte_nautilus.risk.model import Intent, RiskState
from odte_nautilus.risk.policy import RiskPolicy, StrategyLimits, strategy_key
from odte_nautilus.risk.rules import ENTRY_RULES, EXIT_RULES, STANDING_RULES, CheckContext, Rule, rules_for

ENTRY_ALLOWED = "all entry rules passed"
EXIT_ALLOWED = "exit allowed: risk-reducing, leaves no naked short and reverses no holding"


class Kernel:
    """One policy's kernel: ``check(intent, state) -> Decision``, the same answer for the same question."""

    def __init__(self, policy: RiskPolicy) -> None:
        self.policy = policy
        self.entry_rules: tuple[Rule, ...] = rules_for(policy, ENTRY_RULES)
        self.exit_rules: tuple[Rule, ...] = rules_for(policy, EXIT_RULES)
        self.standing_rules: tuple[Rule, ...] = rules_for(policy, STANDING_RULES)
        self._strategies: dict[str, tuple[str, StrategyLimits | None]] = {}

    def check(self, intent: Intent, state: RiskState) -> Decision:
        found = self._strategies.get(intent.strategy_id)  # ``_context``, inline: this is the budgeted path
        if found is None:
            found = self._strategy(intent.strategy_id)
        context = CheckContext(intent, state, self.policy, found[0], found[1])
        adjustments: list[Decision] | None = None
        for rule in self.entry_rules if context.is_entry else self.exit_rules:
            decision = rule(context)
            if decision is None:
                continue
            if not decision.allowed:
                return decision if adjustments is None else _after(decision, adjustments)
            if adjustments is None:
                adjustments = [decision]
            else:
                adjustments.append(decision)
            context.resize(decision.size)
        if adjustments is None:
            return _passed(context.is_entry, intent.quantity)
        reason = "; ".join(a.reason for a in adjustments)
        return Decision.allow(context.quantity, adjustments[0].code, reason)

    def check_standing(self, intent: Intent, state: RiskState) -> Decision | None:
        """The refusal of an entry by the rules that read neither its price nor its size, or None.

        What ``check`` would refuse first for this entry at any price and size (``rules.STANDING_RULES``): a
        strategy asks before pricing a plan, and ``check`` asks every rule again when the order is built.
        """
        context = self._context(intent, state)
        for rule in self.standing_rules:
            decision = rule(context)
            if decision is not None and not decision.allowed:
                return decision
        return None

    def _context(self, intent: Intent, state: RiskState) -> CheckContext:
        found = self._strategies.get(intent.strategy_id)
        if found is None:
            found = self._strategy(intent.strategy_id)
        return CheckContext(intent, state, self.policy, found[0], found[1])

    def _strategy(self, strategy_id: str) -> tuple[str, StrategyLimits | None]:
        """The policy key and limits of a strategy id, looked up once per id (the mapping is not free)."""
        found = self._strategies[strategy_id] = (strategy_key(strategy_id), self.policy.strategy(strategy_id))
        return found


@lru_cache(maxsize=256)
def _passed(is_entry: bool, quantity: int) -> Decision:
    """The decision of a check every rule passed: immutable, so one per size serves every such check."""
    return Decision.allow(quantity, reason=ENTRY_ALLOWED if is_entry else EXIT_ALLOWED)


def _after(refusal: Decision, adjustments: list[Decision]) -> Decision:
    """A refusal that came after size adjustments says so: its numbers were computed on the adjusted size."""
    sized = "; ".join(a.reason for a in adjustments)
    return Decision.refuse(refusal.code, f"{refusal.reason} (after sizing: {sized})")
