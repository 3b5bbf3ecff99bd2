"""The rules read the worst case: working orders counted, each strategy's book and the account's.

``no_naked_short`` and ``forbid_reverse_without_flat`` are checked per strategy (``strategy_holdings``)
and per account, with every *other* working order filled the way that hurts most (``risk.exposure``).
``derive_kind`` says whether an order is an exit. Each test fails if its part of the model is removed.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from odte_nautilus.risk.decision import ReasonCode
from odte_nautilus.risk.exposure import WorkingOrder, derive_kind
from odte_nautilus.risk.kernel import Kernel
from odte_nautilus.risk.model import Holding, IntentKind, Leg
from odte_nautilus.risk.policy import load_policy
from tests.kit import contract, entry, state

Code = ReasonCode
MULTI = Kernel(load_policy("multi_strategy_paper"))
A, B = "ThetaHarvester-001", "ThetaHarvester-002"
C, CW, P = contract("C", 5100), contract("C", 5120), contract("P", 5100)


def held(*pairs) -> dict[str, Holding]:
    return {ct.instrument_id: Holding(ct, qty) for ct, qty in pairs}


def books(**per_strategy: dict[str, Holding]) -> dict:
    """RiskState fields for per-strategy books: each strategy's holdings and the account's sum."""
    account: dict[str, Holding] = {}
    for book in per_strategy.values():
        for iid, h in book.items():
            prev = account[iid].quantity if iid in account else 0
            account[iid] = Holding(h.contract, prev + h.quantity)
    return {"holdings": account, "strategy_holdings": {_ids[k]: v for k, v in per_strategy.items()}}


_ids = {"a": A, "b": B}


def order(strategy: str, *legs: tuple, qty: int = 1, kind: IntentKind = IntentKind.ENTRY, oid: str = "W-1"):
    return WorkingOrder(oid, strategy, tuple(Leg(ct, r) for ct, r in legs), qty, kind)


def buy_call(strategy: str, ct=CW, qty: int = 1, kind: IntentKind = IntentKind.ENTRY):
    return replace(entry((Leg(ct, 1),), strategy=strategy, price=2.0, qty=qty), kind=kind)


# -- coverage per strategy and per account ---------------------------------------------------------------


def long_put(strategy: str):
    return entry((Leg(contract("P", 5080), 1),), strategy=strategy, price=2.0)


def test_another_strategys_long_call_does_not_cover_a_short_one():
    world = state(**books(a=held((CW, 1)), b=held((C, -1))))  # the account is covered; b's book is not
    assert MULTI.check(long_put(B), world).code is Code.NO_NAKED_SHORT
    assert MULTI.check(long_put(A), world).allowed


def test_an_exit_may_not_widen_the_accounts_shortfall_even_when_its_own_book_is_fine():
    world = state(**books(a=held((CW, 1)), b=held((C, -1))))  # b's short is covered only by a's call
    sell_wing = replace(entry((Leg(CW, -1),), strategy=A, price=-2.0), kind=IntentKind.EXIT)
    assert MULTI.check(sell_wing, world).code is Code.NO_NAKED_SHORT


def test_a_working_sell_of_the_wing_counts_as_filled():
    world = state(**books(a=held((C, -1), (CW, 1))), working=(order(A, (CW, -1), kind=IntentKind.EXIT),))
    assert MULTI.check(long_put(A), world).code is Code.NO_NAKED_SHORT  # the call group may end short
    second = replace(entry((Leg(CW, -1),), strategy=A, price=-2.0), kind=IntentKind.EXIT)
    assert MULTI.check(second, world).code is Code.NO_NAKED_SHORT


def test_a_working_buy_does_not_count_as_cover():
    world = state(**books(a=held((C, -1))), working=(order(A, (CW, 1)),))  # the wing is only being bought
    assert MULTI.check(long_put(A), world).code is Code.NO_NAKED_SHORT


def test_another_strategys_working_sell_counts_against_the_account():
    world = state(
        **books(a=held((CW, 1)), b=held((C, -1), (contract("C", 5130), 1))),
        working=(order(B, (contract("C", 5130), -1)),),
    )
    sell_wing = replace(entry((Leg(CW, -1),), strategy=A, price=-2.0), kind=IntentKind.EXIT)
    assert MULTI.check(sell_wing, world).code is Code.NO_NAKED_SHORT  # b's sell could leave the account short


def test_without_per_strategy_books_the_account_is_the_strategys():
    world = state(holdings=held((C, -1), (CW, 1)))  # strategy_holdings None: one book
    assert MULTI.check(long_put(B), world).allowed


# -- reversal per strategy and per account, through working orders ------------------------------------------


def test_an_exit_that_together_with_a_working_exit_would_cross_zero_is_refused():
    world = state(**books(a=held((C, 1), (CW, 1))), working=(order(A, (C, -1), kind=IntentKind.EXIT),))
    sell = replace(entry((Leg(C, -1),), strategy=A, price=-10.0), kind=IntentKind.EXIT)
    assert MULTI.check(sell, world).code is Code.FORBID_REVERSE_WITHOUT_FLAT


def test_an_order_against_a_working_order_of_the_other_side_is_refused_from_flat():
    world = state(**books(a={}), working=(order(A, (P, 1)),))
    sell_put = replace(entry((Leg(P, -1), Leg(contract("P", 5080), 1)), strategy=A, price=-5.0), kind=IntentKind.ENTRY)
    assert MULTI.check(sell_put, world).code is Code.FORBID_REVERSE_WITHOUT_FLAT


def test_another_strategys_opposite_holding_does_not_trap_a_close():
    """b holds 2 short puts, a holds 1 long: b buying its 2 back takes the account from -1 to +1, which is no
    reversal of anyone's position; refusing it would trap b's exit until a closes (seen in a backtest: a fly's
    stop held up for 25 minutes by another strategy's strangle leg)."""
    world = state(**books(a=held((P, 1)), b=held((P, -2), (contract("P", 5080), 2))))
    buy_back = replace(entry((Leg(P, 1),), strategy=B, price=5.0, qty=2), kind=IntentKind.EXIT)
    assert MULTI.check(buy_back, world).allowed


def test_a_strategys_own_book_may_not_be_carried_through_zero():
    world = state(**books(a=held((P, 1), (contract("P", 5080), 1))))
    sell_two = replace(entry((Leg(P, -1),), strategy=A, price=-5.0, qty=2), kind=IntentKind.EXIT)
    assert MULTI.check(sell_two, world).code is Code.FORBID_REVERSE_WITHOUT_FLAT


# -- one position only counts working orders -----------------------------------------------------------------


def test_one_position_only_counts_a_working_order_as_a_position():
    single = Kernel(load_policy("single_position_0dte"))
    strangle = entry((Leg(CW, 1), Leg(contract("P", 5080), 1)), strategy="GammaScalper-001", price=4.0)
    world = state(working=(order("GammaScalper-001", (C, 1), (P, 1)),))
    assert single.check(strangle, world).code is Code.ONE_POSITION_ONLY


# -- derived exits ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "book", "working", "kind"),
    [
        ({C.instrument_id: 1}, held((C, -1)), (), IntentKind.EXIT),  # buys back what is short
        ({C.instrument_id: 2}, held((C, -1)), (), IntentKind.ENTRY),  # more than is held
        ({C.instrument_id: -1}, held((C, -1)), (), IntentKind.ENTRY),  # adds to the short
        ({C.instrument_id: 1}, {}, (), IntentKind.ENTRY),  # holds nothing there
        ({C.instrument_id: 1}, held((C, -1)), (order(A, (C, 1)),), IntentKind.ENTRY),  # already being bought back
        ({C.instrument_id: 1}, held((C, -2)), (order(A, (C, 1)),), IntentKind.EXIT),  # what is left after it
        ({C.instrument_id: 1}, held((C, -1)), (order(A, (C, -1)),), IntentKind.EXIT),  # a working add takes nothing off
        ({C.instrument_id: 1, CW.instrument_id: -1}, held((C, -1), (CW, 1)), (), IntentKind.EXIT),  # the whole package
        ({C.instrument_id: 1, CW.instrument_id: 1}, held((C, -1), (CW, 1)), (), IntentKind.ENTRY),  # one leg adds
        ({C.instrument_id: 0}, held((C, -1)), (), IntentKind.ENTRY),  # trades nothing: no exit
    ],
)
def test_derive_kind(changes, book, working, kind):
    assert derive_kind(changes.items(), book, working) is kind


# -- edges the mutation run found untested ------------------------------------------------------------------


def test_a_strategys_book_holds_only_its_own_working_orders():
    c5130 = contract("C", 5130)
    world = state(
        **books(a=held((C, -1), (CW, 1)), b=held((c5130, 1))), working=(order(B, (c5130, -1), kind=IntentKind.EXIT),)
    )
    assert MULTI.check(long_put(A), world).allowed  # b's working sell touches neither a's book nor the account's cover


def test_an_exit_that_leaves_a_group_exactly_covered_is_allowed():
    world = state(**books(a=held((C, -1), (CW, 1), (contract("C", 5130), 1))))
    sell_spare = replace(entry((Leg(contract("C", 5130), -1),), strategy=A, price=-1.0), kind=IntentKind.EXIT)
    assert MULTI.check(sell_spare, world).allowed


def test_an_exit_in_another_group_is_not_trapped_by_an_uncovered_short():
    """A partial fill left a short call uncovered; closing an unrelated long put must still go out."""
    world = state(**books(a=held((C, -1), (P, 1))))
    sell_put = replace(entry((Leg(P, -1),), strategy=A, price=-5.0), kind=IntentKind.EXIT)
    assert MULTI.check(sell_put, world).allowed


def test_a_new_package_on_other_strikes_is_no_reversal():
    world = state(**books(a=held((C, -1), (CW, 1))))
    other_fly = entry(
        (
            Leg(contract("C", 5200), -1),
            Leg(contract("P", 5200), -1),
            Leg(contract("C", 5220), 1),
            Leg(contract("P", 5180), 1),
        ),
        strategy=A,
        price=-12.0,
    )
    assert MULTI.check(other_fly, world).code is not Code.FORBID_REVERSE_WITHOUT_FLAT


def test_another_strategys_breaker_does_not_stop_this_one():
    world = state(strategy_breakers=frozenset({"GammaScalper-001"}))
    assert MULTI.check(long_put(A), world).allowed
