"""The package state machine's table: every arrow of seed 000's machine, and nothing else."""

from __future__ import annotations

from itertools import product

import pytest

from odte_nautilus.execution.package_fsm import (
    FLAT,
    OPEN,
    PENDING_ENTRY,
    PENDING_EXIT,
    TRANSITIONS,
    InvalidTransition,
    PackageFSM,
    Trigger,
)
from odte_nautilus.risk.model import PackageState

# The specification, written out independently of the module: adding or removing an arrow breaks this file.
EXPECTED_ARROWS = {
    (FLAT, Trigger.SUBMIT_ENTRY): PENDING_ENTRY,
    (FLAT, Trigger.ENTRY_FILLED): OPEN,
    (PENDING_ENTRY, Trigger.ENTRY_FILLED): OPEN,
    (PENDING_ENTRY, Trigger.ENTRY_CANCEL_UNCONFIRMED): PENDING_ENTRY,
    (PENDING_ENTRY, Trigger.ENTRY_VOID): FLAT,
    (OPEN, Trigger.ENTRY_FILLED): OPEN,
    (OPEN, Trigger.SUBMIT_EXIT): PENDING_EXIT,
    (PENDING_EXIT, Trigger.ENTRY_FILLED): PENDING_EXIT,
    (PENDING_EXIT, Trigger.EXIT_PARTIAL_FILL): PENDING_EXIT,
    (PENDING_EXIT, Trigger.EXIT_CANCEL_UNCONFIRMED): PENDING_EXIT,
    (PENDING_EXIT, Trigger.EXIT_PARTIAL_DONE): OPEN,
    (PENDING_EXIT, Trigger.EXIT_VOID): OPEN,
    (PENDING_EXIT, Trigger.EXIT_FILLED_FLAT): FLAT,
    (PENDING_EXIT, Trigger.EXIT_FLAT_ENTRY_WORKING): PENDING_ENTRY,
}

ALL_PAIRS = list(product(PackageState, Trigger))


def test_table_is_exactly_the_specified_arrows():
    """The arrows are the specification (design §8, seed 000's state machine), written out here on purpose:
    an arrow added or changed in the code without changing the spec is how the zombie position happened."""
    assert dict(TRANSITIONS) == EXPECTED_ARROWS


@pytest.mark.parametrize(("state", "trigger"), ALL_PAIRS, ids=lambda v: v.name)
def test_every_state_trigger_pair_moves_by_the_table_or_raises(state, trigger):
    fsm = PackageFSM(state)
    if (state, trigger) in EXPECTED_ARROWS:
        assert fsm.fire(trigger) is EXPECTED_ARROWS[(state, trigger)]
        assert fsm.state is EXPECTED_ARROWS[(state, trigger)]
    else:
        with pytest.raises(InvalidTransition) as err:
            fsm.fire(trigger)
        assert state.name in str(err.value) and trigger.name in str(err.value)
        assert (err.value.state, err.value.trigger) == (state, trigger)
        assert fsm.state is state, "an illegal trigger must leave the state untouched"


def test_invalid_transition_names_the_triggers_allowed_instead():
    with pytest.raises(InvalidTransition, match=r"allowed in PENDING_ENTRY: .*ENTRY_FILLED.*ENTRY_VOID"):
        PackageFSM(PENDING_ENTRY).fire(Trigger.SUBMIT_EXIT)


@pytest.mark.parametrize("state", list(PackageState), ids=lambda s: s.name)
def test_can_enter_only_from_flat(state):
    assert PackageFSM(state).can_enter() is (state is FLAT)


@pytest.mark.parametrize("state", list(PackageState), ids=lambda s: s.name)
def test_can_exit_only_from_open(state):
    assert PackageFSM(state).can_exit() is (state is OPEN)


def test_starts_flat():
    assert PackageFSM().state is FLAT


def test_the_seed_cycle_flat_pending_entry_open_pending_exit_flat():
    fsm = PackageFSM()
    cycle = (Trigger.SUBMIT_ENTRY, Trigger.ENTRY_FILLED, Trigger.SUBMIT_EXIT, Trigger.EXIT_FILLED_FLAT)
    path = [fsm.fire(t) for t in cycle]
    assert path == [PENDING_ENTRY, OPEN, PENDING_EXIT, FLAT]


def test_a_partial_take_profit_cycle_returns_to_open_and_can_exit_again():
    fsm = PackageFSM(PENDING_EXIT)
    fsm.fire(Trigger.EXIT_PARTIAL_FILL)
    fsm.fire(Trigger.EXIT_PARTIAL_DONE)
    assert fsm.can_exit()


def test_every_trigger_has_an_arrow():
    assert {t for (_, t) in TRANSITIONS} == set(Trigger)


def test_no_dead_end_every_state_reaches_flat_and_is_reached_from_flat():
    def reachable(start):
        seen, todo = {start}, [start]
        while todo:
            s = todo.pop()
            for (src, _), dst in TRANSITIONS.items():
                if src is s and dst not in seen:
                    seen.add(dst)
                    todo.append(dst)
        return seen

    assert reachable(FLAT) == set(PackageState)
    assert all(FLAT in reachable(s) for s in PackageState)


def test_the_table_cannot_be_edited_at_run_time():
    """No code can add an arrow while the node runs (a way round can_enter() from FLAT only)."""
    with pytest.raises(TypeError):
        # The table's type has no item assignment, and that is what this test proves at run time.
        TRANSITIONS[(OPEN, Trigger.SUBMIT_ENTRY)] = PENDING_ENTRY  # type: ignore[index]
