"""Seed 000's four-state execution state machine for one package, as a transition table.

Written like Nautilus's order state machine: the arrows are data, ``(state, trigger) -> next state``, all
visible below, and a trigger with no arrow from the current state raises ``InvalidTransition``. Nothing
else moves a package between states. ``can_enter()`` is true only from FLAT (seed 000).

The arrows that close seed 000's three production incidents:
- the zombie position: *every* entry fill leaves PENDING_ENTRY for OPEN, so the exits (which need OPEN)
  can close what was bought;
- the phantom position: a cancel that came from an error path (IB error 104) keeps the package pending
  (``*_CANCEL_UNCONFIRMED``) until executions confirm it; it never voids the order on its own;
- the orphaned contracts: an exit that ends with contracts left (a partial take-profit done, an exit voided)
  returns to OPEN, so the next exit can be sent.

Which trigger an event is, is decided by ``fills.PackageLedger`` from facts (the order's own ``ExitKind``
and the contract count), never from the state.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from types import MappingProxyType

from odte_nautilus.risk.model import PackageState


class Trigger(StrEnum):
    SUBMIT_ENTRY = "submit_entry"  # the entry order is sent
    ENTRY_FILLED = "entry_filled"  # any fill of an entry order, partial or full
    ENTRY_CANCEL_UNCONFIRMED = "entry_cancel_unconfirmed"  # error-path cancel, nothing held: wait for executions
    ENTRY_VOID = "entry_void"  # entry cancelled / rejected / confirmed unfilled, nothing held
    SUBMIT_EXIT = "submit_exit"  # an exit order (with its ExitKind) is sent
    EXIT_PARTIAL_FILL = "exit_partial_fill"  # part of the exit filled, its remainder still works
    EXIT_CANCEL_UNCONFIRMED = "exit_cancel_unconfirmed"  # error-path cancel of the exit: wait for executions
    EXIT_PARTIAL_DONE = "exit_partial_done"  # the exit filled completely and contracts are left
    EXIT_VOID = "exit_void"  # the exit ended unfilled or part-filled (cancel, reject) and contracts are left
    EXIT_FILLED_FLAT = "exit_filled_flat"  # the exit left nothing held and no entry order works
    EXIT_FLAT_ENTRY_WORKING = "exit_flat_entry_working"  # nothing held, but an entry remainder still works


FLAT = PackageState.FLAT
PENDING_ENTRY = PackageState.PENDING_ENTRY
OPEN = PackageState.OPEN
PENDING_EXIT = PackageState.PENDING_EXIT

TRANSITIONS: Mapping[tuple[PackageState, Trigger], PackageState] = MappingProxyType(
    {
        (FLAT, Trigger.SUBMIT_ENTRY): PENDING_ENTRY,
        (FLAT, Trigger.ENTRY_FILLED): OPEN,  # a fill contradicting the entry's final status is still a fill
        (PENDING_ENTRY, Trigger.ENTRY_FILLED): OPEN,  # the zombie fix
        (PENDING_ENTRY, Trigger.ENTRY_CANCEL_UNCONFIRMED): PENDING_ENTRY,  # the phantom fix
        (PENDING_ENTRY, Trigger.ENTRY_VOID): FLAT,
        (OPEN, Trigger.ENTRY_FILLED): OPEN,  # a late remainder of the entry adds contracts
        (OPEN, Trigger.SUBMIT_EXIT): PENDING_EXIT,
        (PENDING_EXIT, Trigger.ENTRY_FILLED): PENDING_EXIT,
        (PENDING_EXIT, Trigger.EXIT_PARTIAL_FILL): PENDING_EXIT,
        (PENDING_EXIT, Trigger.EXIT_CANCEL_UNCONFIRMED): PENDING_EXIT,
        (PENDING_EXIT, Trigger.EXIT_PARTIAL_DONE): OPEN,  # the orphaned-contracts fix
        (PENDING_EXIT, Trigger.EXIT_VOID): OPEN,
        (PENDING_EXIT, Trigger.EXIT_FILLED_FLAT): FLAT,
        (PENDING_EXIT, Trigger.EXIT_FLAT_ENTRY_WORKING): PENDING_ENTRY,
    }
)


class InvalidTransition(Exception):
    """A trigger with no arrow from the current state: a bug in the caller, never to be swallowed."""

    def __init__(self, state: PackageState, trigger: Trigger) -> None:
        allowed = ", ".join(t.name for (s, t) in TRANSITIONS if s is state)
        super().__init__(
            f"package state machine: trigger {trigger.name} is not allowed in state {state.name} "
            f"(allowed in {state.name}: {allowed})"
        )
        self.state = state
        self.trigger = trigger


class PackageFSM:
    """One package's state; moved only by ``fire()`` along ``TRANSITIONS``."""

    __slots__ = ("_state",)

    def __init__(self, state: PackageState = FLAT) -> None:
        self._state = state

    @property
    def state(self) -> PackageState:
        return self._state

    def can_enter(self) -> bool:
        """Seed 000: a new entry only from FLAT."""
        return self._state is FLAT

    def can_exit(self) -> bool:
        """Seed 000: exits require OPEN (contracts held, no exit working)."""
        return self._state is OPEN

    def fire(self, trigger: Trigger) -> PackageState:
        try:
            self._state = TRANSITIONS[(self._state, trigger)]
        except KeyError:
            raise InvalidTransition(self._state, trigger) from None
        return self._state

    def __repr__(self) -> str:
        return f"PackageFSM({self._state.name})"
