"""Seed 000's three production incidents, each replayed as the event sequence that caused it.

Each must fail loudly, naming the incident, if the behaviour ever regresses.
"""

from __future__ import annotations

import pytest

from odte_nautilus.execution.events import Cancelled, Fill, FilledStatus, NoFillConfirmed
from odte_nautilus.execution.fills import PackageLedger, UnpricedFill
from odte_nautilus.execution.package_fsm import FLAT, OPEN, PENDING_ENTRY, PENDING_EXIT
from odte_nautilus.risk.model import ExitKind
from tests.kit import entry, fly_entry


def test_regression_zombie_position():
    """A fill was detected but the machine stayed in PENDING_ENTRY, so every exit path refused to close it."""
    ledger = PackageLedger.for_entry(entry(qty=2, price=3.0))
    ledger.submit_entry("E1", 2, 3.0)

    state = ledger.apply(Fill("E1", "0001.01", 1, 3.0))  # a partial fill: the original bug's trigger

    assert state is OPEN, f"ZOMBIE POSITION regressed: an entry fill left the package in {state.name}, not OPEN"
    assert ledger.quantity == 1, "ZOMBIE POSITION regressed: the filled contract was not booked"
    assert ledger.can_exit(), "ZOMBIE POSITION regressed: the package holds contracts that no exit may close"
    assert ledger.submit_exit("X1", ExitKind.STOP_PREMIUM, 1) is PENDING_EXIT
    ledger.apply(Fill("X1", "0002.01", 1, 2.0))
    assert (ledger.state, ledger.quantity) == (PENDING_ENTRY, 0), (
        "ZOMBIE POSITION regressed: the exit did not close the filled contract (the remainder still works)"
    )


def test_regression_zombie_position_late_remainder_is_exitable():
    """The entry remainder filling after the package went OPEN must add contracts the exits then close."""
    ledger = PackageLedger.for_entry(entry(qty=2, price=3.0))
    ledger.submit_entry("E1", 2, 3.0)
    ledger.apply(Fill("E1", "0001.01", 1, 3.0))
    ledger.submit_exit("X1", ExitKind.TAKE_PROFIT_FULL, 1)
    ledger.apply(Fill("E1", "0001.02", 1, 3.1))  # the remainder, while the exit works
    ledger.apply(Fill("X1", "0002.01", 1, 4.0))

    assert (ledger.state, ledger.quantity) == (OPEN, 1), (
        f"ZOMBIE POSITION regressed: the late entry remainder left {ledger.quantity} held in {ledger.state.name}"
    )
    assert ledger.can_exit(), "ZOMBIE POSITION regressed: the late remainder cannot be exited"


def test_regression_phantom_position():
    """IB modify-after-fill (error 104): ``Cancelled`` first, then the fill that really happened."""
    ledger = PackageLedger.for_entry(entry(qty=1, price=4.20))
    ledger.submit_entry("E1", 1, 4.20)

    state = ledger.apply(Cancelled("E1", from_error=True))  # ib_async: error 104 -> Cancelled(104)

    assert state is PENDING_ENTRY, f"PHANTOM POSITION regressed: an error-path cancel moved the package to {state.name}"
    assert ledger.quantity == 0, "PHANTOM POSITION regressed: a cancel was treated as a fill"
    assert ledger.cancel_unconfirmed, "PHANTOM POSITION regressed: the error-path cancel was believed as final"
    assert not ledger.can_enter(), "PHANTOM POSITION regressed: a tentative cancel re-opened the package for entry"

    ledger.apply(Fill("E1", "0000e1a7.01", 1, 4.20))  # execDetails
    ledger.apply(FilledStatus("E1", 1, 4.20))  # orderStatus Filled 1 @ 4.20

    assert (ledger.state, ledger.quantity, ledger.avg_entry_price) == (OPEN, 1, 4.20), (
        "PHANTOM POSITION regressed: the fill behind the error-104 cancel was not booked as OPEN 1 @ 4.20, got "
        f"{ledger.state.name} {ledger.quantity} @ {ledger.avg_entry_price}"
    )


def test_regression_phantom_position_zero_price_never_booked():
    """A ``Cancelled`` with filled_qty > 0 but no average price must never book a position at 0.0."""
    ledger = PackageLedger.for_entry(fly_entry(qty=1))
    ledger.submit_entry("E1", 1, -12.0)

    ledger.apply(Cancelled("E1", filled_qty=1, avg_fill_price=0.0))

    assert ledger.quantity == 0 and ledger.avg_entry_price is None, (
        f"PHANTOM POSITION regressed: booked {ledger.quantity} at {ledger.avg_entry_price} from an unpriced cancel"
    )
    assert ledger.state is PENDING_ENTRY, (
        f"PHANTOM POSITION regressed: an unpriced cancel moved the package to {ledger.state.name}"
    )
    with pytest.raises(UnpricedFill):
        ledger.apply(Fill("E1", "bad.01", 1, 0.0))
    assert ledger.quantity == 0, "PHANTOM POSITION regressed: an execution at price 0.0 was booked"


def test_regression_phantom_position_priced_cancel_is_a_fill():
    """``Cancelled`` with filled_qty > 0 and a price is a fill: believing the cancel would hide the contract."""
    ledger = PackageLedger.for_entry(fly_entry(qty=1))
    ledger.submit_entry("E1", 1, -12.0)

    ledger.apply(Cancelled("E1", filled_qty=1, avg_fill_price=-12.0))

    assert (ledger.state, ledger.quantity) == (OPEN, 1), (
        f"PHANTOM POSITION regressed: a priced Cancelled left {ledger.quantity} held in {ledger.state.name}"
    )


def test_regression_phantom_position_confirmed_no_fill_goes_flat():
    ledger = PackageLedger.for_entry(entry(qty=1, price=4.20))
    ledger.submit_entry("E1", 1, 4.20)
    ledger.apply(Cancelled("E1", from_error=True))

    ledger.apply(NoFillConfirmed("E1"))

    assert ledger.state is FLAT and ledger.can_enter(), (
        f"PHANTOM POSITION regressed: executions confirmed no fill, yet the package is {ledger.state.name}"
    )


def test_regression_orphaned_contracts():
    """Partial take-profit fills routed by ``sm.is_open()`` were taken for full closes, orphaning the rest."""
    ledger = PackageLedger.for_entry(fly_entry(qty=3))
    ledger.submit_entry("E1", 3, -12.0)
    ledger.apply(Fill("E1", "e.01", 3, -12.0))
    ledger.submit_exit("X1", ExitKind.TAKE_PROFIT_PARTIAL, 2)  # the machine is now PENDING_EXIT

    ledger.apply(Fill("X1", "x.01", 1, -4.0))
    assert (ledger.state, ledger.quantity) == (PENDING_EXIT, 2), (
        f"ORPHANED CONTRACTS regressed: a partial take-profit fill left {ledger.state.name} with {ledger.quantity}"
    )
    ledger.apply(Fill("X1", "x.02", 1, -4.0))
    assert ledger.state is OPEN, (
        f"ORPHANED CONTRACTS regressed: a completed partial take-profit left the package {ledger.state.name}, "
        f"with {ledger.quantity} contracts no exit may close"
    )
    assert ledger.quantity == 1, f"ORPHANED CONTRACTS regressed: {ledger.quantity} held, 1 expected"

    ledger.submit_exit("X2", ExitKind.EOD_FLATTEN, 1)
    ledger.apply(Fill("X2", "x.03", 1, -3.0))
    assert (ledger.state, ledger.quantity) == (FLAT, 0), "ORPHANED CONTRACTS regressed: the rest could not be closed"


def test_regression_orphaned_contracts_partial_fill_of_a_full_exit():
    """A full exit's partial fill must not be taken for a close: its remainder stays tracked in PENDING_EXIT."""
    ledger = PackageLedger.for_entry(fly_entry(qty=3))
    ledger.submit_entry("E1", 3, -12.0)
    ledger.apply(Fill("E1", "e.01", 3, -12.0))
    ledger.submit_exit("X1", ExitKind.STOP_PREMIUM, 3)

    ledger.apply(Fill("X1", "x.01", 1, -16.0))

    assert (ledger.state, ledger.quantity) == (PENDING_EXIT, 2), (
        f"ORPHANED CONTRACTS regressed: a partial fill of a full exit gave {ledger.state.name} with {ledger.quantity}"
    )
    ledger.apply(Cancelled("X1", filled_qty=1, avg_fill_price=-16.0))
    assert (ledger.state, ledger.quantity) == (OPEN, 2), (
        "ORPHANED CONTRACTS regressed: the unfilled rest of a cancelled exit is not exitable"
    )
