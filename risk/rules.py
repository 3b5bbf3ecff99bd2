"""The kernel's rules: one small pure function each, and the ordered lists the kernel runs.

Modelled on Freqtrade's protections (docs/style.md): each rule answers one question about one intent -
``None`` when it passes, a refusal ``Decision`` with a reason code and a sentence with the numbers that
made it fire, or (a size adjuster) an allowed ``Decision`` carrying the adjusted size. A rule reads a
``CheckContext``: the intent, the risk state and the policy, plus the facts several rules share (live
packages, day P&L, open risk), gathered once per check so the kernel stays cheap enough to sit in the
engine's command path (design §3). Sentences are built only when a rule fires: a passing check
formats nothing.

Adding a rule: write the function here, put it in ``ENTRY_RULES`` (and ``EXIT_RULES`` if it can refuse a
risk-reducing order), mark it ``@applies_when(...)`` if some policies can never make it fire, and add one
test.

Order of the entry list, and why:
0. a well-formed order (at least one package, at least one leg), first in both lists;
1. gates that do not depend on size (session, EOD, lock, kill switch, paper account, strategy switches,
   breakers, daily loss stops, streak stop, trade count, the structural invariants that read only the
   package's shape), so a refusal names the most fundamental reason;
2. the size adjusters (position size breaker, size range, streak cut, soft stop cut): every later rule
   sees the adjusted size;
3. the rules that depend on size (naked short, reversal, package counts, open risk, rate limits).
The lists are the single source of truth for the order; a ``Kernel`` runs them minus the rules its
policy can never fire (``rules_for``).

Daily loss codes: ``HARD_STOP`` is seed 000's ladder (% of NAV); ``GLOBAL_DAILY_LOSS`` is seed 003's
dollar limit (``global_limits.max_daily_loss``); ``GLOBAL_BREAKER`` is seed 003's RISK-OFF breaker.
A loss *reaching* a limit fires it ("daily loss < max daily loss" is the seed's pre-entry check), while an
open risk exactly *at* its limit is allowed ("open risk <= limit"). Both comparisons fail closed: a NaN
P&L or open risk (a missing mark) refuses rather than blinding every loss rule. Losses go through
``ladder.loss_reached`` (shared with the risk book, which locks on the same comparison); open risk is
written ``not risk <= limit`` (marked "or NaN"), never ``risk > limit``, which a NaN passes.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import datetime
from zoneinfo import ZoneInfo

from odte_nautilus.risk.decision import Decision
from odte_nautilus.risk.decision import ReasonCode as Code
from odte_nautilus.risk.exposure import ScopeExposure
from odte_nautilus.risk.ladder import (
    LadderStage,
    StreakStage,
    ladder_losses,
    ladder_stage,
    loss_reached,
    strategy_breaker_loss,
    streak_stage,
    whole_contracts,
)
from odte_nautilus.risk.model import (
    CoverGroup,
    Intent,
    IntentKind,
    OptionRight,
    PackageFacts,
    RiskState,
    StateIndex,
)
from odte_nautilus.risk.policy import RiskPolicy, StrategyLimits
from odte_nautilus.risk.rate_limits import HOUR_NS, MINUTE_NS, entries_within

_NEW_YORK = ZoneInfo("America/New_York")
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


def _has_strategies(policy: RiskPolicy) -> bool:
    return bool(policy.strategies)


def _has_global_limits(policy: RiskPolicy) -> bool:
    return policy.global_limits is not None


def _has_ladder(policy: RiskPolicy) -> bool:
    return policy.drawdown_ladder is not None


def _has_loss_streak(policy: RiskPolicy) -> bool:
    return policy.loss_streak is not None


def _has_rate_limits(policy: RiskPolicy) -> bool:
    return policy.rate_limits is not None


def _usd(amount: float) -> str:
    """Dollars as a trader reads them: 10,800 or 1,234.56."""
    return f"{amount:,.0f}" if float(amount).is_integer() else f"{amount:,.2f}"


def _ny_clock(ts_ns: int) -> str:
    return datetime.fromtimestamp(ts_ns / 1e9, _NEW_YORK).strftime("%H:%M:%S")


def _expiry_date(expiry_ns: int) -> str:
    return datetime.fromtimestamp(expiry_ns / 1e9, _NEW_YORK).strftime("%Y-%m-%d")


# --- 0. a well-formed order --------------------------------------------------------------------------


def well_formed_order(c: CheckContext) -> Decision | None:
    """An order trades at least one package of at least one leg. A negative quantity would turn an exit
    into an entry in disguise (its legs reversed), slipping past every gate that exits skip."""
    if c.quantity < 1:
        return Decision.refuse(Code.SIZE_OUT_OF_RANGE, f"size {c.quantity}: an order trades at least 1 package")
    if not c.intent.legs:
        return Decision.refuse(Code.SIZE_OUT_OF_RANGE, "the order has no legs: it trades nothing")
    return None


# --- 1. gates that do not depend on size ------------------------------------------------------------


def outside_session(c: CheckContext) -> Decision | None:
    """Entries only inside the exchange session of a trading day."""
    session, now = c.state.session, c.state.now_ns
    if session is None:
        return Decision.refuse(Code.OUTSIDE_SESSION, "no trading session today: not a trading day")
    if now < session.open_ns or now >= session.close_ns:
        return Decision.refuse(
            Code.OUTSIDE_SESSION,
            f"{_ny_clock(now)} New York is outside the {session.trading_date} session"
            f" {_ny_clock(session.open_ns)}-{_ny_clock(session.close_ns)}",
        )
    return None


def eod_flatten_window(c: CheckContext) -> Decision | None:
    """design §9: from the EOD flatten (close - 15 min) on, nothing new opens."""
    session, now = c.state.session, c.state.now_ns
    if session is not None and now >= session.flatten_ns:
        return Decision.refuse(
            Code.EOD_FLATTEN_WINDOW,
            f"{_ny_clock(now)} New York is at or past the EOD flatten at {_ny_clock(session.flatten_ns)}:"
            " no new entries until the next session",
        )
    return None


def day_locked(c: CheckContext) -> Decision | None:
    """Seed 000: a locked day (hard stop, streak stop, EOD flatten) cannot quietly reopen."""
    if c.state.day_locked:
        why = c.state.lock_reason or "no reason recorded"
        return Decision.refuse(
            Code.DAY_LOCKED, f"the trading day is locked ({why}): no new entries until the next session"
        )
    return None


def kill_switch(c: CheckContext) -> Decision | None:
    """Seed 003's emergency stop: immediately stops all new entries; exits stay allowed."""
    if c.state.kill_switch:
        return Decision.refuse(Code.KILL_SWITCH, "the kill switch is on: no new entries until a manual reset")
    return None


@applies_when(lambda policy: policy.require_paper)
def paper_account(c: CheckContext) -> Decision | None:
    """Seed 003's paper-only safeguards: reject orders if a live account or a live-mode broker is seen."""
    if not c.policy.require_paper:
        return None
    account = c.state.account
    if not account.is_paper_account:
        return Decision.refuse(
            Code.ACCOUNT_NOT_PAPER, "the account is not a paper account and the profile requires paper (require_paper)"
        )
    if not account.broker_paper_mode:
        return Decision.refuse(
            Code.BROKER_NOT_PAPER,
            "the broker client is not in paper mode and the profile requires paper (require_paper)",
        )
    return None


@applies_when(_has_strategies)
def unknown_strategy(c: CheckContext) -> Decision | None:
    """A profile that lists strategies trades only those: an unlisted one has no limits to enforce."""
    if c.policy.strategies and c.limits is None:
        return Decision.refuse(
            Code.UNKNOWN_STRATEGY,
            f"strategy {c.intent.strategy_id} has no limits in profile {c.policy.profile}:"
            f" add strategies.{c.strategy_key} to the risk profile to trade it",
        )
    return None


def _names_in(c: CheckContext, names: frozenset[str]) -> bool:
    """A strategy may be named by its Nautilus id (ThetaHarvester-001) or its policy key (theta_harvester)."""
    return c.intent.strategy_id in names or c.strategy_key in names


def strategy_disabled(c: CheckContext) -> Decision | None:
    """Seed 003's kill switch per strategy: 'turn strategy off'."""
    names = c.state.disabled_strategies
    if names and _names_in(c, names):
        return Decision.refuse(
            Code.STRATEGY_DISABLED,
            f"strategy {c.intent.strategy_id} is disabled: enable it to trade (authorized action)",
        )
    return None


def global_breaker(c: CheckContext) -> Decision | None:
    """Seed 003's daily loss circuit breaker: RISK-OFF, manual reset only."""
    if c.state.global_breaker:
        return Decision.refuse(
            Code.GLOBAL_BREAKER, "RISK-OFF: the global circuit breaker has tripped; manual reset required"
        )
    breakers = c.policy.breakers
    if breakers is not None and loss_reached(c.facts.day_pnl, breakers.global_daily_loss):
        return Decision.refuse(
            Code.GLOBAL_BREAKER,
            f"RISK-OFF: day P&L {_usd(c.facts.day_pnl)} reached the global loss breaker of"
            f" -{_usd(breakers.global_daily_loss)}; manual reset required",
        )
    return None


def strategy_breaker(c: CheckContext) -> Decision | None:
    """Seed 003's per-strategy breaker: a loss of half the strategy's max daily loss stops it for the day."""
    names = c.state.strategy_breakers
    if names and _names_in(c, names):
        return Decision.refuse(
            Code.STRATEGY_BREAKER,
            f"the circuit breaker of {c.intent.strategy_id} has tripped for the day (auto-reset next day)",
        )
    breakers, limits = c.policy.breakers, c.limits
    if breakers is None or limits is None:
        return None
    threshold = strategy_breaker_loss(breakers, limits)
    if loss_reached(c.facts.strategy_pnl, threshold):
        return Decision.refuse(
            Code.STRATEGY_BREAKER,
            f"{c.strategy_key} day P&L {_usd(c.facts.strategy_pnl)} reached its breaker of -{_usd(threshold)}"
            f" ({breakers.strategy_loss_fraction:.0%} of its max daily loss {_usd(limits.max_daily_loss)})",
        )
    return None


@applies_when(_has_ladder)
def ladder_hard_stop(c: CheckContext) -> Decision | None:
    """Seed 000's drawdown ladder: a loss of hard_stop_pct of NAV locks the day."""
    ladder = c.policy.drawdown_ladder
    if ladder is None or ladder_stage(c.facts.day_pnl, c.state.nav, ladder) is not LadderStage.HARD_STOP:
        return None
    _, hard = ladder_losses(c.state.nav, ladder)
    return Decision.refuse(
        Code.HARD_STOP,
        f"day P&L {_usd(c.facts.day_pnl)} reached the hard stop of -{_usd(hard)}"
        f" ({ladder.hard_stop_pct:g}% of NAV {_usd(c.state.nav)}): the day is locked",
    )


@applies_when(_has_global_limits)
def global_daily_loss(c: CheckContext) -> Decision | None:
    """Seed 003's hard stop: disable all new entries once the day's loss reaches the global limit."""
    limits = c.policy.global_limits
    if limits is not None and loss_reached(c.facts.day_pnl, limits.max_daily_loss):
        return Decision.refuse(
            Code.GLOBAL_DAILY_LOSS,
            f"day P&L {_usd(c.facts.day_pnl)} reached the global max daily loss of -{_usd(limits.max_daily_loss)}:"
            " no new entries today",
        )
    return None


@applies_when(_has_strategies)
def strategy_daily_loss(c: CheckContext) -> Decision | None:
    """Seed 003's per-strategy max daily loss."""
    limits = c.limits
    if limits is not None and loss_reached(c.facts.strategy_pnl, limits.max_daily_loss):
        return Decision.refuse(
            Code.STRATEGY_DAILY_LOSS,
            f"{c.strategy_key} day P&L {_usd(c.facts.strategy_pnl)} reached its max daily loss of"
            f" -{_usd(limits.max_daily_loss)}",
        )
    return None


@applies_when(_has_loss_streak)
def loss_streak_stop(c: CheckContext) -> Decision | None:
    """Seed 000: three consecutive losses stop the day."""
    streak = c.policy.loss_streak
    if streak is not None and streak_stage(c.state.loss_streak, streak) is StreakStage.STOP:
        return Decision.refuse(
            Code.LOSS_STREAK_STOP,
            f"{c.state.loss_streak} consecutive losses reached the streak stop of {streak.stop_after}: the day is over",
        )
    return None


@applies_when(lambda policy: policy.max_trades_per_day is not None)
def max_trades_per_day(c: CheckContext) -> Decision | None:
    """Seed 000: max_trades_per_day capped low (2-5)."""
    cap = c.policy.max_trades_per_day
    if cap is not None and c.state.trades_today >= cap:
        return Decision.refuse(
            Code.MAX_TRADES_PER_DAY, f"{c.state.trades_today} trades today reached max_trades_per_day {cap}"
        )
    return None


def not_flat(c: CheckContext) -> Decision | None:
    """Seed 000's state machine: can_enter() is true only from FLAT."""
    p = c.index.live_by_id.get(c.intent.package_id)
    if p is not None:
        return Decision.refuse(Code.NOT_FLAT, f"package {p.package_id} is {p.state}: an entry starts only from FLAT")
    return None


@applies_when(lambda policy: policy.invariants.one_position_only)
def one_position_only(c: CheckContext) -> Decision | None:
    """Seed 000's one_position_only: nothing opens while anything (any strategy, any leg) is held."""
    if not c.policy.invariants.one_position_only:
        return None
    if c.facts.live:
        p = c.facts.live[0]
        return Decision.refuse(
            Code.ONE_POSITION_ONLY,
            f"one_position_only: package {p.package_id} of {p.strategy_id} on {p.symbol} is {p.state}",
        )
    for iid, holding in c.state.holdings.items():
        if holding.quantity:
            return Decision.refuse(
                Code.ONE_POSITION_ONLY, f"one_position_only: the account holds {holding.quantity:+d} {iid}"
            )
    if c.state.working:
        order = c.state.working[0]
        return Decision.refuse(
            Code.ONE_POSITION_ONLY,
            f"one_position_only: order {order.order_id} of {order.strategy_id} is still working and may fill",
        )
    return None


@applies_when(lambda policy: policy.invariants.long_only)
def long_only(c: CheckContext) -> Decision | None:
    """Seed 000's long-only profile: a package with any short leg is refused."""
    if not c.policy.invariants.long_only or c.shape.long_premium:
        return None
    shorts = ", ".join(leg.contract.instrument_id for leg in c.intent.legs if leg.ratio <= 0)
    return Decision.refuse(Code.LONG_ONLY, f"long_only: the package sells {shorts}")


def forbid_add_to_loser(c: CheckContext) -> Decision | None:
    """Seed 000's forbid_add_to_loser: no new package beside a losing one, no adding to a losing leg.

    A package not known to be at least flat (a NaN mark) counts as losing."""
    losers = c.index.losers
    if not losers:
        return None
    intent, holdings, deltas = c.intent, c.state.holdings, c.intent.leg_deltas()
    for p in losers:
        if p.strategy_id == intent.strategy_id and p.symbol == intent.symbol:
            return Decision.refuse(
                Code.FORBID_ADD_TO_LOSER,
                f"forbid_add_to_loser: {p.strategy_id} holds package {p.package_id} on {p.symbol}"
                f" at {_usd(p.unrealized_pnl)} unrealized",
            )
        for leg in p.legs:
            iid = leg.contract.instrument_id
            change, held = deltas.get(iid, 0), holdings.get(iid)
            if held is not None and change * held.quantity > 0:
                return Decision.refuse(
                    Code.FORBID_ADD_TO_LOSER,
                    f"forbid_add_to_loser: {change:+d} {iid} adds to the holding {held.quantity:+d} of losing"
                    f" package {p.package_id} ({_usd(p.unrealized_pnl)} unrealized)",
                )
    return None


def duplicate_position(c: CheckContext) -> Decision | None:
    """Seed 003's pre-entry check 'no duplicate positions': the same legs twice for one strategy."""
    p = c.facts.book_by_legs.get(c.shape.leg_key)
    if p is not None:
        return Decision.refuse(
            Code.DUPLICATE_POSITION,
            f"{c.intent.strategy_id} already holds the same legs on {c.intent.symbol} as package {p.package_id}",
        )
    return None


# --- 2. size adjusters --------------------------------------------------------------------------------


@applies_when(lambda policy: policy.breakers is not None and bool(policy.strategies))
def position_size_breaker(c: CheckContext) -> Decision | None:
    """Seed 003's position size breaker: a size above multiple x base is capped (and the cap logged)."""
    breakers, limits = c.policy.breakers, c.limits
    if breakers is None or limits is None:
        return None
    qty = c.quantity
    if qty <= limits.base_contracts:  # never above the cap: the multiple is > 1 (policy validation)
        return None
    cap = whole_contracts(limits.base_contracts, breakers.position_size_multiple)
    if qty <= cap:
        return None
    return Decision.allow(
        cap,
        Code.POSITION_SIZE_CAPPED,
        f"size {qty} > {breakers.position_size_multiple:g} x base {limits.base_contracts} contracts:"
        f" capped to {cap} (position size breaker)",
    )


@applies_when(_has_strategies)
def size_range(c: CheckContext) -> Decision | None:
    """Seed 003's position size range (theta 1-3, gamma 1-2): below the minimum is refused, above is capped.

    Above the maximum is a cap (POSITION_SIZE_CAPPED), like the size breaker: the smaller order is the safe one.
    """
    qty, limits = c.quantity, c.limits
    if limits is None:
        return None
    if qty < limits.min_contracts:
        return Decision.refuse(
            Code.SIZE_OUT_OF_RANGE, f"size {qty} is below the minimum of {limits.min_contracts} for {c.strategy_key}"
        )
    if qty > limits.max_contracts:
        return Decision.allow(
            limits.max_contracts,
            Code.POSITION_SIZE_CAPPED,
            f"size {qty} > max {limits.max_contracts} contracts for {c.strategy_key}: capped to {limits.max_contracts}",
        )
    return None


def _cut(c: CheckContext, code: Code, factor: float, why: str) -> Decision:
    """A size cut, or its refusal when it floors to zero: never pass full size when a cut cannot apply."""
    qty = c.quantity
    new = whole_contracts(qty, factor)
    if new < 1:
        return Decision.refuse(code, f"{why}: size {qty} x {factor:g} floors to 0 contracts")
    return Decision.allow(new, code, f"{why}: size {qty} cut to {new} (x {factor:g})")


@applies_when(_has_loss_streak)
def loss_streak_size_cut(c: CheckContext) -> Decision | None:
    """Seed 000: two consecutive losses halve size."""
    streak = c.policy.loss_streak
    if streak is None or streak_stage(c.state.loss_streak, streak) is StreakStage.NORMAL:
        return None
    return _cut(c, Code.LOSS_STREAK_SIZE_CUT, streak.size_factor, f"{c.state.loss_streak} consecutive losses")


@applies_when(_has_ladder)
def soft_stop_size_cut(c: CheckContext) -> Decision | None:
    """Seed 000's drawdown ladder: a loss of soft_stop_pct of NAV cuts size."""
    ladder = c.policy.drawdown_ladder
    if ladder is None or ladder_stage(c.facts.day_pnl, c.state.nav, ladder) is LadderStage.NORMAL:
        return None
    soft, _ = ladder_losses(c.state.nav, ladder)
    why = f"day P&L {_usd(c.facts.day_pnl)} reached the soft stop of -{_usd(soft)} ({ladder.soft_stop_pct:g}% of NAV)"
    return _cut(c, Code.SOFT_STOP_SIZE_CUT, ladder.soft_stop_size_factor, why)


# --- 3. rules that depend on size (entries and exits) ------------------------------------------------


def no_naked_short(c: CheckContext) -> Decision | None:
    """design §6: no naked short, ever - for entries and for exits, per strategy and per account.

    Per (underlying, expiry, right) long contracts must cover short ones after the order fills completely,
    with every *other* working order assumed to fill in the way that removes cover (``exposure``): a short
    call is covered by any long call of the same underlying and expiry (its loss is then bounded), a short
    put likewise by a long put. The check runs twice: on the sender's own book (each strategy is never
    naked, whatever the others hold) and on the account's (what the broker sees). An entry is refused while
    any group would be uncovered. An exit is refused only when it uncovers more than before - closing the
    wings of a fly before its body, or while its body's buy-back is still working - so an exit that repairs
    an already-uncovered short (a partial fill) is never trapped. An entry whose own maximum loss is
    unbounded is refused even when other holdings cover it.
    """
    for scope in _cover_scopes(c):
        refusal = _cover_refusal(c, scope)
        if refusal is not None:
            return refusal
    return _unbounded(c) if c.is_entry else None


def _cover_scopes(c: CheckContext) -> tuple[ScopeExposure, ...]:
    """The sender's book, then the account's (one book when the state has no per-strategy holdings);
    found once per check, as two rules read them."""
    scopes = c.scopes
    if scopes is None:
        account = exposure_of(c.index, c.state, None)
        if c.state.strategy_holdings is None:
            scopes = (account,)
        else:
            scopes = (exposure_of(c.index, c.state, c.intent.strategy_id), account)
        c.scopes = scopes
    return scopes


def exposure_of(index: StateIndex, state: RiskState, strategy_id: str | None) -> ScopeExposure:
    """The worst-case exposure of a strategy's book (or the account's, for None), once per snapshot."""
    found = index.scopes.get(strategy_id)
    if found is None:
        if strategy_id is None:
            found = ScopeExposure.of(state.holdings, state.working)
        else:
            held = (state.strategy_holdings or {}).get(strategy_id, {})
            found = ScopeExposure.of(held, tuple([o for o in state.working if o.strategy_id == strategy_id]))
        index.scopes[strategy_id] = found
    return found


def _cover_refusal(c: CheckContext, scope: ScopeExposure) -> Decision | None:
    is_entry, quantity, worst = c.is_entry, c.quantity, scope.cover
    if c.shape.self_covered and not (is_entry and scope.uncovered):
        return None  # an order that covers its own shorts only adds cover
    for group, ratio in c.shape.cover:
        change = ratio * quantity
        net = worst.get(group, 0) + change
        # An exit may leave a shortfall that was already there (and shrink it), never widen it.
        if net < 0 and (is_entry or change < 0):
            return _uncovered(c, group, net)
    if is_entry and scope.uncovered:
        touched = {group for group, _ in c.shape.cover}
        for group in scope.uncovered:
            if group not in touched:
                return _uncovered(c, group, worst[group])
    return None


def _unbounded(c: CheckContext) -> Decision | None:
    """An entry whose own maximum loss is unbounded is a naked short whatever else the account holds."""
    if c.open_risk == math.inf:
        return Decision.refuse(
            Code.NO_NAKED_SHORT,
            "the package's own maximum loss is unbounded: its short calls need long calls inside it",
        )
    return None


def _uncovered(c: CheckContext, group: CoverGroup, net: int) -> Decision:
    """The refusal naming a group the order would leave (or finds) short of ``-net`` long contracts."""
    underlying, expiry_ns, right = group
    kind = "call" if right is OptionRight.CALL else "put"
    return Decision.refuse(
        Code.NO_NAKED_SHORT,
        f"after this {c.intent.kind} fills, {-net} short {underlying} {kind}(s) expiring"
        f" {_expiry_date(expiry_ns)} could have no long {kind} to cover them (working orders counted as"
        " filled where that removes cover)" + ("" if c.is_entry else ": close the short legs first"),
    )


def forbid_reverse_without_flat(c: CheckContext) -> Decision | None:
    """Seed 000's forbid_reverse_without_flat, for entries and exits, per strategy and per account.

    No leg may carry a holding through zero to the other side (long 1, sell 2) - whichever of the
    working orders fill, in whatever order: an exit that overshoots is as wrong as an entry that does. The
    account is checked too, because that is the position the broker sees. An entry is also refused while
    the same strategy holds the opposite premium direction on the symbol (a long strangle beside its own
    short-premium fly).
    """
    for scope in _cover_scopes(c):
        refusal = _reversal(c, scope)
        if refusal is not None:
            return refusal
    if not c.is_entry:
        return None
    mine = c.shape.long_premium
    p = c.facts.book_by_premium.get(not mine)
    if p is not None:
        return Decision.refuse(
            Code.FORBID_REVERSE_WITHOUT_FLAT,
            f"{c.intent.strategy_id} holds {_premium(p.is_long_premium)} package {p.package_id} on {p.symbol};"
            f" this entry is {_premium(mine)}: flatten before reversing",
        )
    return None


def _reversal(c: CheckContext, scope: ScopeExposure) -> Decision | None:
    if not scope.reach:
        return None
    quantity = c.quantity
    for iid, ratio in c.shape.net:
        low, high = scope.reach.get(iid, (0, 0))
        change = ratio * quantity
        low, high = (low + change, high) if change < 0 else (low, high + change)
        if low < 0 < high:
            held = scope.held.get(iid)
            return Decision.refuse(
                Code.FORBID_REVERSE_WITHOUT_FLAT,
                f"{change:+d} {iid} with the holding {held.quantity if held else 0:+d} and the working orders"
                f" could leave it anywhere from {low:+d} to {high:+d}: flatten before reversing",
            )
    return None


def _premium(is_long: bool) -> str:
    return "long-premium" if is_long else "short-premium"


@applies_when(_has_strategies)
def max_open_packages_per_symbol(c: CheckContext) -> Decision | None:
    """Seed 003: max open packages per strategy and symbol (theta 3, gamma 2)."""
    limits = c.limits
    if limits is None:
        return None
    held = len(c.facts.book)
    if held + 1 > limits.max_open_packages_per_symbol:
        return Decision.refuse(
            Code.MAX_OPEN_PACKAGES_PER_SYMBOL,
            f"{held} open packages of {c.strategy_key} on {c.intent.symbol} + this one"
            f" > {limits.max_open_packages_per_symbol} per symbol",
        )
    return None


@applies_when(_has_global_limits)
def max_open_packages_total(c: CheckContext) -> Decision | None:
    """Seed 003: max open packages across all strategies and symbols."""
    limits = c.policy.global_limits
    if limits is None:
        return None
    held = len(c.facts.live)
    if held + 1 > limits.max_open_packages:
        return Decision.refuse(
            Code.MAX_OPEN_PACKAGES_TOTAL, f"{held} open packages + this one > {limits.max_open_packages} in total"
        )
    return None


@applies_when(_has_strategies)
def max_open_risk_per_symbol(c: CheckContext) -> Decision | None:
    """Seed 003: max open risk (maximum loss) per strategy and symbol; exactly at the limit is allowed."""
    limits = c.limits
    if limits is None:
        return None
    held = c.facts.book_risk
    total = held + c.open_risk
    if not total <= limits.max_open_risk_per_symbol:  # over, or NaN
        return Decision.refuse(
            Code.MAX_OPEN_RISK_PER_SYMBOL,
            f"open risk {_usd(total)} > {_usd(limits.max_open_risk_per_symbol)} per symbol for {c.strategy_key}"
            f" on {c.intent.symbol} ({_usd(held)} held + {_usd(c.open_risk)} for this package)",
        )
    return None


@applies_when(_has_global_limits)
def max_open_risk_total(c: CheckContext) -> Decision | None:
    """Seed 003: max open risk across all strategies; exactly at the limit is allowed."""
    limits = c.policy.global_limits
    if limits is None:
        return None
    held = c.facts.live_risk
    total = held + c.open_risk
    if not total <= limits.max_open_risk:  # over, or NaN
        return Decision.refuse(
            Code.MAX_OPEN_RISK_TOTAL,
            f"open risk {_usd(total)} > {_usd(limits.max_open_risk)} in total"
            f" ({_usd(held)} held + {_usd(c.open_risk)} for this package)",
        )
    return None


@applies_when(_has_rate_limits)
def rate_limit_strategy(c: CheckContext) -> Decision | None:
    """Seed 003: no more than N new packages per minute per strategy."""
    limits = c.policy.rate_limits
    if limits is None:
        return None
    recent = entries_within(c.state.entry_times_ns.get(c.intent.strategy_id, ()), c.state.now_ns, MINUTE_NS)
    if recent >= limits.packages_per_minute_per_strategy:
        return Decision.refuse(
            Code.RATE_LIMIT_STRATEGY,
            f"{recent} entries of {c.intent.strategy_id} in the last 60 s reached the limit of"
            f" {limits.packages_per_minute_per_strategy} a minute",
        )
    return None


@applies_when(_has_rate_limits)
def rate_limit_total(c: CheckContext) -> Decision | None:
    """Seed 003: no more than M new packages per hour in total."""
    limits = c.policy.rate_limits
    if limits is None:
        return None
    recent = entries_within(c.index.entry_times, c.state.now_ns, HOUR_NS)
    if recent >= limits.packages_per_hour_total:
        return Decision.refuse(
            Code.RATE_LIMIT_TOTAL,
            f"{recent} entries in the last hour reached the limit of {limits.packages_per_hour_total} an hour in total",
        )
    return None


# --- the lists the kernel runs ---------------------------------------------------------------------

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

# design §15: exits reduce risk and are allowed through kill switch, day lock and EOD window,
# unless the exit is malformed or would itself leave a naked short or reverse a holding.
EXIT_RULES: tuple[Rule, ...] = (
    well_formed_order,
    no_naked_short,
    forbid_reverse_without_flat,
)
