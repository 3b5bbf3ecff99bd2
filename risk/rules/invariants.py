"""Seed 000's invariants: a well-formed order, FLAT before an entry, one position only, long only, no add
to a loser, no duplicate, no naked short, no reverse without flat.

The last two read the worst case (``risk.exposure``): each book's holdings plus every other working order
filled the way that hurts most, for the sender's book and for the account's.
"""

from __future__ import annotations

import math

from odte_nautilus.risk.decision import Decision
from odte_nautilus.risk.decision import ReasonCode as Code
from odte_nautilus.risk.exposure import ScopeExposure
from odte_nautilus.risk.model import CoverGroup, OptionRight, RiskState, StateIndex
from odte_nautilus.risk.rules.context import CheckContext, applies_when, expiry_date, usd


def well_formed_order(c: CheckContext) -> Decision | None:
    """An order trades at least one package of at least one leg. A negative quantity would turn an exit
    into an entry in disguise (its legs reversed), slipping past every gate that exits skip."""
    if c.quantity < 1:
        return Decision.refuse(Code.SIZE_OUT_OF_RANGE, f"size {c.quantity}: an order trades at least 1 package")
    if not c.intent.legs:
        return Decision.refuse(Code.SIZE_OUT_OF_RANGE, "the order has no legs: it trades nothing")
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
                f" at {usd(p.unrealized_pnl)} unrealized",
            )
        for leg in p.legs:
            iid = leg.contract.instrument_id
            change, held = deltas.get(iid, 0), holdings.get(iid)
            if held is not None and change * held.quantity > 0:
                return Decision.refuse(
                    Code.FORBID_ADD_TO_LOSER,
                    f"forbid_add_to_loser: {change:+d} {iid} adds to the holding {held.quantity:+d} of losing"
                    f" package {p.package_id} ({usd(p.unrealized_pnl)} unrealized)",
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
        f" {expiry_date(expiry_ns)} could have no long {kind} to cover them (working orders counted as"
        " filled where that removes cover)" + ("" if c.is_entry else ": close the short legs first"),
    )


def forbid_reverse_without_flat(c: CheckContext) -> Decision | None:
    """Seed 000's forbid_reverse_without_flat, for entries and exits, on the sender's own book.

    No leg may carry the strategy's holding through zero to the other side (long 1, sell 2), whichever of
    its working orders fill, in whatever order: an exit that overshoots is as wrong as an entry that does.
    It is a rule of one book, not of the account: when two strategies hold opposite sides of one contract,
    the account's net passes through zero as either closes, and refusing that would trap a real exit (a
    fly's stop held up by another strategy's strangle leg). Coverage, which the broker's margin does see, is
    checked on the account too (``no_naked_short``). An entry is also refused while the same strategy holds
    the opposite premium direction on the symbol (a long strangle beside its own short-premium fly).
    """
    refusal = _reversal(c, _cover_scopes(c)[0])
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
