"""The kernel's rules, by family, and the one place that says in which order the kernel runs them.

Modelled on Freqtrade's protections (docs/style.md). Each rule is a small pure function of a
``CheckContext`` and answers one question about one intent:
- ``None`` when it passes;
- a refusal ``Decision`` with a reason code and a sentence holding the numbers that made it fire;
- or, for a size adjuster, an allowed ``Decision`` carrying the adjusted size.

The families:
- ``invariants`` — seed 000's structural invariants;
- ``session`` — time and switches;
- ``account`` — paper-only and listed strategies;
- ``breakers`` — seed 003's breakers;
- ``losses`` — the ladder, the streak and the dollar limits;
- ``limits`` — sizes, counts, open risk and rates.

Adding a rule: write the function in its family, put it in ``ENTRY_RULES`` below (and in ``EXIT_RULES`` if it
can refuse a risk-reducing order), mark it ``@applies_when(...)`` if some policies can never make it fire,
and add one test.

The order of the entry list, and why:
0. A well-formed order (at least one package, at least one leg) comes first in both lists.
1. Then the gates that do not depend on size, so that a refusal names the most fundamental reason: session,
   EOD, lock, kill switch, paper account, strategy switches, breakers, daily loss stops, streak stop, trade
   count, and the structural invariants that read only the package's shape.
2. Then the size adjusters (position size breaker, size range, streak cut, soft stop cut). Every later rule
   sees the adjusted size.
3. Last, the rules that depend on size: naked short, reversal, package counts, open risk, rate limits.

A ``Kernel`` runs these lists minus the rules its policy can never fire (``rules_for``).
"""

from __future__ import annotations

from odte_nautilus.risk.rules.account import paper_account, unknown_strategy
from odte_nautilus.risk.rules.breakers import global_breaker, position_size_breaker, strategy_breaker
from odte_nautilus.risk.rules.context import CheckContext, Rule, package_facts, rules_for
from odte_nautilus.risk.rules.invariants import (
    duplicate_position,
    exposure_of,
    forbid_add_to_loser,
    forbid_reverse_without_flat,
    long_only,
    no_naked_short,
    not_flat,
    one_position_only,
    well_formed_order,
)
from odte_nautilus.risk.rules.limits import (
    max_open_packages_per_symbol,
    max_open_packages_total,
    max_open_risk_per_symbol,
    max_open_risk_total,
    max_trades_per_day,
    rate_limit_strategy,
    rate_limit_total,
    size_range,
)
from odte_nautilus.risk.rules.losses import (
    global_daily_loss,
    ladder_hard_stop,
    loss_streak_size_cut,
    loss_streak_stop,
    soft_stop_size_cut,
    strategy_daily_loss,
)
from odte_nautilus.risk.rules.session import (
    day_locked,
    eod_flatten_window,
    kill_switch,
    outside_session,
    strategy_disabled,
)

__all__ = [
    "ENTRY_RULES",
    "EXIT_RULES",
    "SIZE_ADJUSTERS",
    "STANDING_RULES",
    "CheckContext",
    "Rule",
    "exposure_of",
    "package_facts",
    "rules_for",
]

SIZE_ADJUSTERS: tuple[Rule, ...] = (
    position_size_breaker,
    size_range,
    loss_streak_size_cut,
    soft_stop_size_cut,
)

ENTRY_RULES: tuple[Rule, ...] = (
    well_formed_order,
    outside_session,
    eod_flatten_window,
    day_locked,
    kill_switch,
    paper_account,
    unknown_strategy,
    strategy_disabled,
    global_breaker,
    strategy_breaker,
    ladder_hard_stop,
    global_daily_loss,
    strategy_daily_loss,
    loss_streak_stop,
    max_trades_per_day,
    not_flat,
    one_position_only,
    long_only,
    forbid_add_to_loser,
    duplicate_position,
    *SIZE_ADJUSTERS,
    no_naked_short,
    forbid_reverse_without_flat,
    max_open_packages_per_symbol,
    max_open_packages_total,
    max_open_risk_per_symbol,
    max_open_risk_total,
    rate_limit_strategy,
    rate_limit_total,
)

# The gates (1. above) read neither the order's price nor its size: what they refuse, they refuse for any
# price and any size, so a strategy asks them before it prices a plan (``Kernel.check_standing``): a plan
# refused there is never priced, and its package quote is never subscribed.
STANDING_RULES: tuple[Rule, ...] = ENTRY_RULES[: ENTRY_RULES.index(SIZE_ADJUSTERS[0])]

# design §15: exits reduce risk and are allowed through kill switch, day lock and EOD window,
# unless the exit is malformed or would itself leave a naked short or reverse a holding.
EXIT_RULES: tuple[Rule, ...] = (
    well_formed_order,
    no_naked_short,
    forbid_reverse_without_flat,
)
