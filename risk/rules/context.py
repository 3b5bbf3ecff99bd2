"""What every rule reads, and the tools rules share.

A rule reads a ``CheckContext``: the intent (as resized so far), the risk state and the policy, plus the
facts several rules share (live packages, day P&L, open risk), gathered once per check so the kernel stays
cheap enough to sit in the engine's command path (design §3). Sentences are built only when a rule fires:
a passing check formats nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from odte_nautilus.risk.decision import Decision
from odte_nautilus.risk.decision import ReasonCode as Code
from odte_nautilus.risk.exposure import ScopeExposure
from odte_nautilus.risk.ladder import loss_reached
from odte_nautilus.risk.model import Intent, IntentKind, PackageFacts, RiskState
from odte_nautilus.risk.policy import RiskPolicy, StrategyLimits
from odte_nautilus.risk.session import NEW_YORK
from odte_nautilus.risk.time_units import NS_PER_SECOND

_ENTRY = IntentKind.ENTRY


def package_facts(intent: Intent, state: RiskState) -> PackageFacts:
    """The package facts an intent's check shares between its rules (``StateIndex.package_facts``)."""
    return state.index.package_facts(intent.strategy_id, intent.symbol)


class CheckContext:
    """One check: the intent (as resized so far), the state, the policy and the facts rules share.

    Everything is gathered up front from the state's index and the intent's shape - a handful of lookups,
    cheaper than computing any of it on demand. A size adjuster's ``resize`` updates the size-dependent
    facts (``quantity``, ``open_risk``) and the intent, so every later rule sees the new size.
    """

    __slots__ = (
        "intent",
        "state",
        "policy",
        "strategy_key",
        "limits",
        "is_entry",
        "quantity",
        "shape",
        "index",
        "facts",
        "open_risk",
        "scopes",
    )

    def __init__(
        self, intent: Intent, state: RiskState, policy: RiskPolicy, strategy_key: str, limits: StrategyLimits | None
    ) -> None:
        self.intent = intent
        self.state = state
        self.policy = policy
        self.strategy_key = strategy_key  # the policy's name for the strategy, e.g. theta_harvester
        self.limits = limits  # None: the policy has no limits for this strategy
        self.is_entry = intent.kind is _ENTRY
        self.quantity = intent.quantity  # packages, as resized so far
        self.shape = intent.shape  # the legs' size-free facts
        self.index = index = state.index
        self.facts = index.package_facts(intent.strategy_id, intent.symbol)  # as package_facts() reads them
        self.open_risk = intent.open_risk
        self.scopes: tuple[ScopeExposure, ...] | None = None  # the books no_naked_short and reversal read

    def resize(self, quantity: int) -> None:
        self.intent = self.intent.resized(quantity)
        self.quantity = quantity
        self.open_risk = self.intent.open_risk


Rule = Callable[[CheckContext], Decision | None]


Applies = Callable[[RiskPolicy], bool]


def applies_when(predicate: Applies) -> Callable[[Rule], Rule]:
    """Mark a rule that only some policies can fire (it reads a section or a switch they may lack).

    The mark is an optimisation, never a second guard: each rule still answers ``None`` under a policy
    it does not apply to, and a test holds every mark to that. Unmarked rules apply to every policy.
    """

    def mark(rule: Rule) -> Rule:
        # The mark is an attribute of the function object; mypy types a Rule as a Callable, which has none.
        rule.applies = predicate  # type: ignore[attr-defined]
        return rule

    return mark


def rules_for(policy: RiskPolicy, rules: tuple[Rule, ...]) -> tuple[Rule, ...]:
    """``rules`` in their order, minus those ``policy`` can never fire."""
    return tuple(rule for rule in rules if (applies := getattr(rule, "applies", None)) is None or applies(policy))


def has_strategies(policy: RiskPolicy) -> bool:
    return bool(policy.strategies)


def has_global_limits(policy: RiskPolicy) -> bool:
    return policy.global_limits is not None


def has_ladder(policy: RiskPolicy) -> bool:
    return policy.drawdown_ladder is not None


def has_loss_streak(policy: RiskPolicy) -> bool:
    return policy.loss_streak is not None


def has_rate_limits(policy: RiskPolicy) -> bool:
    return policy.rate_limits is not None


def usd(amount: float) -> str:
    """Dollars as a trader reads them: 10,800 or 1,234.56."""
    return f"{amount:,.0f}" if float(amount).is_integer() else f"{amount:,.2f}"


def ny_clock(ts_ns: int) -> str:
    return datetime.fromtimestamp(ts_ns // NS_PER_SECOND, NEW_YORK).strftime("%H:%M:%S")


def expiry_date(expiry_ns: int) -> str:
    return datetime.fromtimestamp(expiry_ns // NS_PER_SECOND, NEW_YORK).strftime("%Y-%m-%d")


def named_refusal(c: CheckContext, names: frozenset[str], code: Code, sentence: str) -> Decision | None:
    """A refusal when the sender is among ``names`` (a switch or a breaker that holds strategies by name);
    ``sentence`` is formatted with ``{strategy}`` only then."""
    if names and names_in(c, names):
        return Decision.refuse(code, sentence.format(strategy=c.intent.strategy_id))
    return None


def names_in(c: CheckContext, names: frozenset[str]) -> bool:
    """A strategy may be named by its Nautilus id (ThetaHarvester-001) or its policy key (theta_harvester)."""
    return c.intent.strategy_id in names or c.strategy_key in names


def loss_refusal(code: Code, pnl: float, limit: float, sentence: str, **numbers: object) -> Decision | None:
    """A refusal once ``pnl`` reached a loss of ``limit`` (``ladder.loss_reached``: a NaN P&L reaches it).

    ``sentence`` is a template formatted only when the rule fires, with ``{pnl}`` and ``{limit}`` in
    dollars and any ``numbers`` given: a passing check formats nothing.
    """
    if not loss_reached(pnl, limit):
        return None
    return Decision.refuse(code, sentence.format(pnl=usd(pnl), limit=usd(limit), **numbers))
