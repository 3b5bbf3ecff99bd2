"""Fill routing in ``PackageLedger``: entries, exits by ExitKind, the phantom rules, idempotence, P&L and
seed 003's post-entry checks."""

from __future__ import annotations

import math
import re
from itertools import permutations

import pytest

from odte_nautilus.execution.events import Cancelled, Fill, FilledStatus, NoFillConfirmed, Rejected
from odte_nautilus.execution.fills import (
    FillConflict,
    LedgerError,
    Overfill,
    PackageLedger,
    ReviewCode,
    UnknownOrder,
    UnpricedFill,
)
from odte_nautilus.execution.package_fsm import FLAT, OPEN, PENDING_ENTRY, PENDING_EXIT, InvalidTransition
from odte_nautilus.risk.model import ExitKind, max_loss
from tests.kit import entry, fly_entry

FULL_EXIT_KINDS = [k for k in ExitKind if k.closes_everything]


def pending(qty: int = 2, price: float = -12.0) -> PackageLedger:
    """An iron butterfly package with its entry order E1 working."""
    ledger = PackageLedger.for_entry(fly_entry(qty=qty, price=price))
    ledger.submit_entry("E1", qty, price)
    return ledger


def opened(qty: int = 2, price: float = -12.0) -> PackageLedger:
    """An iron butterfly package holding ``qty`` packages entered at ``price``."""
    ledger = pending(qty, price)
    ledger.apply(Fill("E1", "e1", qty, price))
    return ledger


def codes(ledger: PackageLedger) -> list[ReviewCode]:
    return [r.code for r in ledger.reviews]


# -- entries ---------------------------------------------------------------------------------------------


def test_submit_entry_moves_flat_to_pending_entry_and_counts_the_order_as_risk():
    ledger = pending(qty=2)
    view = ledger.view()
    assert (ledger.state, ledger.quantity, ledger.pending_entry_qty) == (PENDING_ENTRY, 0, 2)
    assert view.quantity == 2
    assert view.open_risk == pytest.approx(max_loss(ledger.legs, -12.0, 2))


def test_a_second_entry_while_pending_is_an_invalid_transition():
    ledger = pending()
    with pytest.raises(InvalidTransition):
        ledger.submit_entry("E2", 1, -12.0)
    assert [o.order_id for o in ledger.orders] == ["E1"]


def test_full_entry_fill_opens_with_quantity_and_average_price():
    ledger = opened(qty=2, price=-12.0)
    assert (ledger.state, ledger.quantity, ledger.avg_entry_price, ledger.pending_entry_qty) == (OPEN, 2, -12.0, 0)
    assert ledger.can_exit() and not ledger.can_enter()
    assert ledger.reviews == ()


def test_partial_entry_fill_opens_and_tracks_the_remainder_as_pending():
    ledger = pending(qty=3)
    assert ledger.apply(Fill("E1", "e1", 1, -12.0)) is OPEN
    assert (ledger.quantity, ledger.pending_entry_qty) == (1, 2)
    assert ledger.view().open_risk == pytest.approx(max_loss(ledger.legs, -12.0, 3))


def test_late_entry_remainder_while_open_adds_contracts():
    ledger = pending(qty=2)
    ledger.apply(Fill("E1", "e1", 1, -12.0))
    assert ledger.apply(Fill("E1", "e2", 1, -11.0)) is OPEN
    assert (ledger.quantity, ledger.avg_entry_price) == (2, -11.5)


def test_late_entry_remainder_while_exiting_stays_pending_exit_and_reopens_after_the_exit():
    ledger = pending(qty=2)
    ledger.apply(Fill("E1", "e1", 1, -12.0))
    ledger.submit_exit("X1", ExitKind.STOP_PREMIUM, 1)
    assert ledger.apply(Fill("E1", "e2", 1, -12.0)) is PENDING_EXIT
    assert ledger.apply(Fill("X1", "x1", 1, -16.0)) is OPEN, "the late contract must stay exitable"
    assert ledger.quantity == 1 and ledger.can_exit()


def test_entry_cancelled_unfilled_goes_flat_and_may_be_sent_again():
    ledger = pending()
    assert ledger.apply(Cancelled("E1")) is FLAT
    assert ledger.can_enter() and ledger.view().open_risk == 0.0
    assert ledger.submit_entry("E2", 1, -11.0) is PENDING_ENTRY


def test_entry_rejected_goes_flat_and_is_marked_for_review_with_the_reason():
    ledger = pending()
    assert ledger.apply(Rejected("E1", "margin")) is FLAT
    assert codes(ledger) == [ReviewCode.ORDER_REJECTED]
    assert "margin" in ledger.reviews[0].message


def test_a_package_that_traded_is_not_reused_for_the_next_trade():
    ledger = opened(qty=1)
    ledger.submit_exit("X1", ExitKind.TAKE_PROFIT_FULL, 1)
    ledger.apply(Fill("X1", "x1", 1, -4.0))
    assert ledger.state is FLAT
    with pytest.raises(LedgerError, match="new PackageLedger"):
        ledger.submit_entry("E2", 1, -12.0)


@pytest.mark.parametrize(("qty", "price"), [(0, -12.0), (1, 0.0), (1, math.nan)])
def test_submit_entry_refuses_a_bad_quantity_or_expected_price(qty, price):
    ledger = PackageLedger.for_entry(fly_entry())
    with pytest.raises(ValueError, match="E1"):
        ledger.submit_entry("E1", qty, price)
    assert ledger.state is FLAT


def test_an_order_id_cannot_be_registered_twice():
    ledger = opened(qty=2)
    with pytest.raises(ValueError, match="already registered"):
        ledger.submit_exit("E1", ExitKind.TAKE_PROFIT_FULL, 2)


# -- the phantom rules: statuses believed only with a price ------------------------------------------------


def test_cancelled_with_a_priced_fill_is_a_fill():
    ledger = pending(qty=2)
    assert ledger.apply(Cancelled("E1", filled_qty=1, avg_fill_price=-12.0)) is OPEN
    assert (ledger.quantity, ledger.avg_entry_price, ledger.pending_entry_qty) == (1, -12.0, 0)


def test_negative_credit_price_on_a_cancel_is_a_price():
    """Credits are negative package prices (IB #3884): the seed's ``avg_fill > 0`` must not refuse them."""
    ledger = pending(qty=1)
    assert ledger.apply(Cancelled("E1", filled_qty=1, avg_fill_price=-12.0)) is OPEN


def test_cancelled_with_unpriced_fills_is_not_booked_and_waits_for_executions():
    ledger = pending(qty=1)
    assert ledger.apply(Cancelled("E1", filled_qty=1, avg_fill_price=0.0)) is PENDING_ENTRY
    assert ledger.quantity == 0 and ledger.avg_entry_price is None and ledger.cancel_unconfirmed
    assert ledger.apply(Fill("E1", "e1", 1, -12.0)) is OPEN
    assert not ledger.cancel_unconfirmed


def test_error_path_cancel_is_tentative_until_executions_confirm_no_fill():
    ledger = pending(qty=1)
    assert ledger.apply(Cancelled("E1", from_error=True)) is PENDING_ENTRY
    assert ledger.cancel_unconfirmed and not ledger.can_enter()
    assert ledger.apply(NoFillConfirmed("E1")) is FLAT
    assert not ledger.cancel_unconfirmed and ledger.can_enter()


@pytest.mark.parametrize("price", [0.0, math.nan, math.inf])
def test_an_execution_without_a_price_is_refused_and_books_nothing(price):
    ledger = pending(qty=1)
    with pytest.raises(UnpricedFill, match=re.escape("never booked at 0.0")):
        ledger.apply(Fill("E1", "e1", 1, price))
    assert (ledger.state, ledger.quantity) == (PENDING_ENTRY, 0)


def test_an_execution_of_zero_quantity_is_refused():
    with pytest.raises(ValueError, match="quantity 0"):
        pending().apply(Fill("E1", "e1", 0, -12.0))


def test_filled_status_without_a_price_is_ignored_until_executions_arrive():
    ledger = pending(qty=1)
    assert ledger.apply(FilledStatus("E1", 1, 0.0)) is PENDING_ENTRY
    assert ledger.quantity == 0


def test_filled_status_then_its_executions_books_once_at_the_executions_prices():
    ledger = pending(qty=2)
    assert ledger.apply(FilledStatus("E1", 2, -11.5)) is OPEN
    ledger.apply(Fill("E1", "e1", 1, -12.0))
    assert (ledger.quantity, ledger.avg_entry_price) == (2, -11.5)
    ledger.apply(Fill("E1", "e2", 1, -11.0))
    assert (ledger.quantity, ledger.avg_entry_price) == (2, -11.5)


# -- idempotence and refusals -------------------------------------------------------------------------------


def test_a_duplicate_execution_is_ignored():
    ledger = pending(qty=2)
    ledger.apply(Fill("E1", "e1", 1, -12.0))
    ledger.apply(Fill("E1", "e1", 1, -12.0))
    assert (ledger.quantity, ledger.pending_entry_qty) == (1, 1)


def test_an_execution_id_reused_with_other_numbers_is_a_conflict_and_books_nothing():
    ledger = pending(qty=2)
    ledger.apply(Fill("E1", "e1", 1, -12.0))
    with pytest.raises(FillConflict, match="e1"):
        ledger.apply(Fill("E1", "e1", 2, -12.0))
    assert ledger.quantity == 1


def test_a_fill_for_an_order_the_package_never_sent_is_refused_by_name():
    ledger = pending()
    with pytest.raises(UnknownOrder, match="E9"):
        ledger.apply(Fill("E9", "e1", 1, -12.0))
    assert (ledger.state, ledger.quantity) == (PENDING_ENTRY, 0)


def test_an_entry_filled_beyond_its_quantity_is_an_overfill():
    ledger = pending(qty=1)
    with pytest.raises(Overfill, match="2 of 1"):
        ledger.apply(Fill("E1", "e1", 2, -12.0))
    assert ledger.quantity == 0


def test_an_exit_filled_beyond_its_quantity_is_an_overfill():
    ledger = opened(qty=3)
    ledger.submit_exit("X1", ExitKind.TAKE_PROFIT_PARTIAL, 1)
    with pytest.raises(Overfill):
        ledger.apply(Fill("X1", "x1", 2, -4.0))
    assert (ledger.state, ledger.quantity) == (PENDING_EXIT, 3)


EVENTS_OF_ONE_PARTIAL_ENTRY = [
    Fill("E1", "e1", 1, -12.0),
    Fill("E1", "e2", 1, -11.0),
    Cancelled("E1", filled_qty=2, avg_fill_price=-11.5),
    Fill("E1", "e1", 1, -12.0),  # a duplicate delivery
]


@pytest.mark.parametrize("order", list(permutations(range(4))))
def test_any_delivery_order_of_the_same_events_gives_the_same_booking(order):
    ledger = pending(qty=3)
    for i in order:
        ledger.apply(EVENTS_OF_ONE_PARTIAL_ENTRY[i])
    assert (ledger.state, ledger.quantity, ledger.avg_entry_price) == (OPEN, 2, -11.5)
    assert ledger.pending_entry_qty == 0 and codes(ledger) == [ReviewCode.PARTIAL_ENTRY]


def test_an_entry_filled_after_its_final_cancel_is_still_booked_and_marked_for_review():
    ledger = pending(qty=1)
    ledger.apply(Cancelled("E1"))
    assert ledger.apply(Fill("E1", "e1", 1, -12.0)) is OPEN, "an unbooked fill would be a zombie"
    assert ledger.quantity == 1 and ReviewCode.FILL_AFTER_FINAL_STATUS in codes(ledger)


def test_an_exit_filled_after_its_final_cancel_is_refused_for_reconciliation():
    ledger = opened(qty=2)
    ledger.submit_exit("X1", ExitKind.STOP_PREMIUM, 2)
    ledger.apply(Cancelled("X1"))
    with pytest.raises(FillConflict, match="reconcile"):
        ledger.apply(Fill("X1", "x1", 2, -16.0))
    assert (ledger.state, ledger.quantity) == (OPEN, 2)
    assert codes(ledger) == [ReviewCode.FILL_AFTER_FINAL_STATUS]


# -- exits: routed by their own ExitKind and counts ------------------------------------------------------------


def test_an_exit_needs_an_explicit_exit_kind():
    ledger = opened(qty=1)
    with pytest.raises(TypeError, match="ExitKind"):
        # A plain string where the type says ExitKind: the refusal of it at run time is what is tested.
        ledger.submit_exit("X1", "take_profit_full", 1)  # type: ignore[arg-type]
    assert ledger.state is OPEN


@pytest.mark.parametrize("kind", FULL_EXIT_KINDS, ids=lambda k: k.value)
def test_every_kind_but_partial_take_profit_must_close_everything_held(kind):
    ledger = opened(qty=2)
    with pytest.raises(ValueError, match=kind.value):
        ledger.submit_exit("X1", kind, 1)
    assert ledger.submit_exit("X1", kind, 2) is PENDING_EXIT


def test_no_exit_closes_more_than_is_held():
    ledger = opened(qty=2)
    with pytest.raises(ValueError, match="3 with 2 held"):
        ledger.submit_exit("X1", ExitKind.TAKE_PROFIT_PARTIAL, 3)


def test_no_exit_before_the_entry_has_filled():
    ledger = pending(qty=1)
    with pytest.raises(ValueError, match="0 held"):
        ledger.submit_exit("X1", ExitKind.TAKE_PROFIT_PARTIAL, 1)


def test_a_second_exit_while_one_works_is_an_invalid_transition():
    ledger = opened(qty=2)
    ledger.submit_exit("X1", ExitKind.TAKE_PROFIT_PARTIAL, 1)
    with pytest.raises(InvalidTransition, match="PENDING_EXIT"):
        ledger.submit_exit("X2", ExitKind.KILL_SWITCH, 2)


def test_partial_take_profit_done_with_contracts_left_returns_to_open():
    ledger = opened(qty=3)
    ledger.submit_exit("X1", ExitKind.TAKE_PROFIT_PARTIAL, 2)
    assert ledger.apply(Fill("X1", "x1", 1, -4.0)) is PENDING_EXIT
    assert ledger.apply(Fill("X1", "x2", 1, -4.0)) is OPEN
    assert ledger.quantity == 1 and ledger.can_exit()


def test_partial_take_profit_of_everything_held_goes_flat():
    ledger = opened(qty=1)
    ledger.submit_exit("X1", ExitKind.TAKE_PROFIT_PARTIAL, 1)
    assert ledger.apply(Fill("X1", "x1", 1, -4.0)) is FLAT


@pytest.mark.parametrize("kind", FULL_EXIT_KINDS, ids=lambda k: k.value)
def test_a_full_exit_partly_filled_stays_pending_exit_with_its_remainder(kind):
    ledger = opened(qty=3)
    ledger.submit_exit("X1", kind, 3)
    assert ledger.apply(Fill("X1", "x1", 1, -4.0)) is PENDING_EXIT
    (exit_order,) = [o for o in ledger.orders if o.order_id == "X1"]
    assert (ledger.quantity, exit_order.filled_qty, exit_order.working) == (2, 1, True)
    assert ledger.apply(Fill("X1", "x2", 2, -4.0)) is FLAT
    assert ledger.quantity == 0


def test_exit_cancelled_unfilled_returns_to_open():
    ledger = opened(qty=2)
    ledger.submit_exit("X1", ExitKind.TAKE_PROFIT_FULL, 2)
    assert ledger.apply(Cancelled("X1")) is OPEN
    assert ledger.quantity == 2 and ledger.can_exit()


def test_exit_cancelled_after_a_partial_fill_returns_to_open_with_the_rest():
    ledger = opened(qty=3)
    ledger.submit_exit("X1", ExitKind.EOD_FLATTEN, 3)
    ledger.apply(Fill("X1", "x1", 1, -4.0))
    assert ledger.apply(Cancelled("X1", filled_qty=1, avg_fill_price=-4.0)) is OPEN
    assert ledger.quantity == 2


def test_exit_rejected_returns_to_open_and_is_marked_for_review():
    ledger = opened(qty=1)
    ledger.submit_exit("X1", ExitKind.MANUAL, 1)
    assert ledger.apply(Rejected("X1", "price out of band")) is OPEN
    assert codes(ledger) == [ReviewCode.ORDER_REJECTED]


def test_exit_error_cancel_stays_pending_exit_until_executions_say():
    ledger = opened(qty=1)
    ledger.submit_exit("X1", ExitKind.STOP_UNDERLYING_MOVE, 1)
    assert ledger.apply(Cancelled("X1", from_error=True)) is PENDING_EXIT
    assert ledger.cancel_unconfirmed and not ledger.can_exit()
    assert ledger.apply(Fill("X1", "x1", 1, -16.0)) is FLAT


def test_exit_error_cancel_confirmed_unfilled_returns_to_open():
    ledger = opened(qty=1)
    ledger.submit_exit("X1", ExitKind.STOP_NO_PROGRESS, 1)
    ledger.apply(Cancelled("X1", from_error=True))
    assert ledger.apply(NoFillConfirmed("X1")) is OPEN
    assert ledger.can_exit()


def test_exit_that_flattens_while_an_entry_remainder_works_waits_for_the_entry():
    ledger = pending(qty=3)
    ledger.apply(Fill("E1", "e1", 1, -12.0))
    ledger.submit_exit("X1", ExitKind.KILL_SWITCH, 1)
    assert ledger.apply(Fill("X1", "x1", 1, -15.0)) is PENDING_ENTRY
    assert not ledger.can_enter(), "an entry order still works: not flat"
    assert ledger.apply(Cancelled("E1", filled_qty=1, avg_fill_price=-12.0)) is FLAT


# -- P&L: (exit price - entry price) x 100 per package ------------------------------------------------------------


@pytest.mark.parametrize(
    ("entry_price", "exit_price", "qty", "pnl"),
    [
        (-12.0, -4.0, 1, 800.0),  # credit fly bought back cheaper: receive 1,200, pay 400
        (-12.0, -4.0, 2, 1600.0),
        (-12.0, -20.0, 1, -800.0),  # credit fly bought back dearer
        (3.0, 5.0, 1, 200.0),  # long strangle sold higher
        (3.0, 1.0, 2, -400.0),
    ],
)
def test_realized_pnl_of_a_closed_package(entry_price, exit_price, qty, pnl):
    ledger = PackageLedger.for_entry(entry(qty=qty, price=entry_price))
    ledger.submit_entry("E1", qty, entry_price)
    ledger.apply(Fill("E1", "e1", qty, entry_price))
    ledger.submit_exit("X1", ExitKind.TAKE_PROFIT_FULL, qty)
    ledger.apply(Fill("X1", "x1", qty, exit_price))
    assert ledger.realized_pnl == pytest.approx(pnl)
    assert ledger.state is FLAT


def test_realized_pnl_adds_up_over_a_partial_take_profit_and_a_stop():
    ledger = opened(qty=2, price=-12.0)
    ledger.submit_exit("X1", ExitKind.TAKE_PROFIT_PARTIAL, 1)
    ledger.apply(Fill("X1", "x1", 1, -4.0))
    assert ledger.realized_pnl == pytest.approx(800.0)
    ledger.submit_exit("X2", ExitKind.STOP_PREMIUM, 1)
    ledger.apply(Fill("X2", "x2", 1, -22.0))
    assert ledger.realized_pnl == pytest.approx(-200.0)


def test_no_realized_pnl_before_an_exit_fills():
    assert opened().realized_pnl == 0.0


# -- seed 003 post-entry checks ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expected", "filled", "flagged"),
    [
        (-12.0, -10.8, False),  # exactly 10 % less credit: within
        (-12.0, -13.2, False),  # exactly 10 % more credit: within
        (-12.0, -10.7, True),
        (-12.0, -13.3, True),
        (3.0, 3.3, False),
        (3.0, 3.31, True),
        (3.0, 2.69, True),
        (-12.0, 12.0, True),  # a debit where a credit was expected
    ],
)
def test_entry_price_checked_against_expected_within_ten_percent(expected, filled, flagged):
    ledger = pending(qty=1, price=expected)
    ledger.apply(Fill("E1", "e1", 1, filled))
    assert (ReviewCode.ENTRY_PRICE_MISMATCH in codes(ledger)) is flagged


def test_entry_price_is_checked_once_the_entry_completes_not_on_each_fill():
    ledger = pending(qty=2, price=-12.0)
    ledger.apply(Fill("E1", "e1", 1, -10.0))  # alone 16.7 % off
    assert ledger.reviews == ()
    ledger.apply(Fill("E1", "e2", 1, -13.0))  # average -11.5: within
    assert ledger.reviews == ()


def test_partial_entry_that_ends_unfilled_is_marked_for_review():
    ledger = pending(qty=3)
    ledger.apply(Fill("E1", "e1", 1, -12.0))
    ledger.apply(Cancelled("E1", filled_qty=1, avg_fill_price=-12.0))
    assert codes(ledger) == [ReviewCode.PARTIAL_ENTRY]
    assert "1 of 3" in ledger.reviews[0].message


def test_view_of_an_open_package_uses_the_average_entry_price():
    ledger = opened(qty=2, price=-10.0)
    view = ledger.view(unrealized_pnl=-150.0)
    assert (view.state, view.quantity, view.unrealized_pnl) == (OPEN, 2, -150.0)
    assert view.open_risk == pytest.approx(max_loss(ledger.legs, -10.0, 2))
    assert (view.package_id, view.strategy_id, view.symbol, view.legs) == (
        "P-1",
        "ThetaHarvester-001",
        "SPX",
        ledger.legs,
    )


def test_view_of_a_flat_package_holds_no_risk():
    ledger = opened(qty=1)
    ledger.submit_exit("X1", ExitKind.TAKE_PROFIT_FULL, 1)
    ledger.apply(Fill("X1", "x1", 1, -4.0))
    view = ledger.view()
    assert (view.state, view.quantity, view.open_risk, view.is_live) == (FLAT, 0, 0.0, False)


def test_settlement_closes_an_open_package_at_its_expiry_value_even_zero():
    ledger = PackageLedger.for_entry(entry(qty=2, price=3.0))
    ledger.submit_entry("E-1", 2, 3.0)
    ledger.apply(Fill("E-1", "X-1", 2, 3.0))
    assert ledger.settle(0.0) is FLAT
    assert ledger.realized_pnl == pytest.approx(-600.0)
    assert ledger.orders[-1].exit_kind is ExitKind.SETTLEMENT


def test_settlement_refused_while_an_exit_is_still_working():
    ledger = PackageLedger.for_entry(entry(qty=1, price=3.0))
    ledger.submit_entry("E-1", 1, 3.0)
    ledger.apply(Fill("E-1", "X-1", 1, 3.0))
    ledger.submit_exit("X-2", ExitKind.EOD_FLATTEN, 1)
    with pytest.raises(LedgerError):
        ledger.settle(1.0)
