"""The watchdog's decisions with an injected clock: when it flattens a node, and what it calls a mismatch."""

from __future__ import annotations

from datetime import date

import pytest

from odte_nautilus.live.watchdog_rules import (
    Mismatch,
    Trigger,
    eod_passed,
    flatten_call,
    leg_key,
    missed_heartbeat,
    position_mismatches,
)
from odte_nautilus.risk.session import TradingCalendar
from odte_nautilus.risk.time_units import MINUTE_NS, NS_PER_SECOND
from tests.kit import ny_ns

S = NS_PER_SECOND
DAY = date(2024, 3, 15)
WINDOW = TradingCalendar().session_window(DAY, 15)  # flatten 15:45 ET
T0 = 1_700_000_000 * S  # wall clock


def test_a_node_silent_for_the_timeout_is_hung_a_beat_just_in_time_is_not():
    assert missed_heartbeat(T0, T0 - 100 * S, T0 + 59 * S, 60 * S) is None
    call = missed_heartbeat(T0, T0 - 100 * S, T0 + 60 * S, 60 * S)
    assert call is not None and call.trigger is Trigger.MISSED_HEARTBEAT
    assert "last beat 60 s ago" in call.reason


def test_silence_counts_from_the_watchdogs_start_for_a_node_that_never_beat_or_beat_before_it():
    """Yesterday's beat (or none) does not flatten at once: the node gets the whole timeout to show up."""
    started = T0
    yesterday = T0 - 86_400 * S
    assert missed_heartbeat(None, started, started + 59 * S, 60 * S) is None
    assert missed_heartbeat(yesterday, started, started + 59 * S, 60 * S) is None
    never = missed_heartbeat(None, started, started + 60 * S, 60 * S)
    assert never is not None and "never beat" in never.reason
    assert missed_heartbeat(yesterday, started, started + 60 * S, 60 * S) is not None


def test_the_eod_deadline_is_the_flatten_time_plus_the_grace_in_session_time():
    grace = 5 * MINUTE_NS
    assert eod_passed(ny_ns(15, 49, 59, day=DAY), WINDOW, grace) is None
    call = eod_passed(ny_ns(15, 50, day=DAY), WINDOW, grace)
    assert call is not None and call.trigger is Trigger.EOD
    assert "15:45 ET" in call.reason and "15:50 ET" in call.reason
    assert eod_passed(ny_ns(15, 50, day=DAY), None, grace) is None  # no session that day: no deadline


@pytest.mark.parametrize(
    ("holding", "session", "beat_age_s", "expected"),
    [
        (False, ny_ns(15, 55, day=DAY), 600, None),  # flat broker: nothing to take from anyone
        (True, ny_ns(12, 0, day=DAY), 5, None),  # alive, mid-day
        (True, ny_ns(12, 0, day=DAY), 61, Trigger.MISSED_HEARTBEAT),
        (True, ny_ns(15, 55, day=DAY), 5, Trigger.EOD),  # alive but past its deadline
        (True, ny_ns(15, 55, day=DAY), 61, Trigger.EOD),  # both: the deadline is the harder fact
        (True, None, 61, Trigger.MISSED_HEARTBEAT),  # the gateway did not say its time
    ],
)
def test_flatten_call(holding, session, beat_age_s, expected):
    call = flatten_call(
        holding=holding,
        now_wall_ns=T0,
        session_ns=session,
        last_beat_wall_ns=T0 - beat_age_s * S,
        watching_since_ns=T0 - 3600 * S,
        window=WINDOW,
        heartbeat_timeout_ns=60 * S,
        eod_grace_ns=5 * MINUTE_NS,
    )
    assert (call.trigger if call else None) is expected


@pytest.mark.parametrize(
    "name", ["SPXW  240315P05100000", "SPXW240315P05100000", "SPXW  240315P05100000.CBOE", "SPXW240315P05100000.SMART"]
)
def test_ibs_local_symbol_and_nautilus_instrument_ids_name_one_leg(name):
    assert leg_key(name) == "SPXW240315P05100000"


def test_mismatches_are_the_legs_whose_quantities_differ_under_any_spelling():
    broker = {"SPXW  240315C05100000": -2, "SPXW  240315C05110000": 1, "SPXW  240315P05000000": 1}
    node = {"SPXW  240315C05100000.CBOE": -2, "SPXW  240315C05110000.CBOE": 2, "SPXW  240315P04900000.CBOE": 1}
    assert position_mismatches(broker, node) == [
        Mismatch("SPXW240315C05110000", 1, 2),
        Mismatch("SPXW240315P04900000", 0, 1),
        Mismatch("SPXW240315P05000000", 1, 0),
    ]
    assert position_mismatches(broker, {**broker, "SPXW  240315C05200000": 0}) == []
