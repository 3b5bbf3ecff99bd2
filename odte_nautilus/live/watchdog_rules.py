"""The watchdog's decisions, pure: when to flatten a node, and where the broker and the node disagree.

Kept apart from the broker I/O (``watchdog.py``) so each rule is a small function of what the watchdog has
observed, testable with an injected clock, in the style of the risk kernel's rules: an answer with a reason.

Two clocks on purpose. A heartbeat's silence is measured in wall time, because the node beats in wall time
(``heartbeat.py``) whatever its session clock does. The EOD deadline is measured in the session time the
gateway reports (``reqCurrentTime``): a real gateway answers with real time, the project's TWS simulator
with its replayed time, so a compressed simulated session reaches its deadline as a real one does.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from odte_nautilus.data.symbology import SymbologyError, occ_symbol, parse_occ, parse_option_id
from odte_nautilus.risk.session import NEW_YORK, SessionWindow
from odte_nautilus.risk.time_units import MINUTE_NS, NS_PER_SECOND


class Trigger(StrEnum):
    MISSED_HEARTBEAT = "missed_heartbeat"
    EOD = "eod"
    MANUAL = "manual"


@dataclass(frozen=True, slots=True)
class FlattenCall:
    """Flatten now, and why (the sentence goes to the journal, the alert and the report)."""

    trigger: Trigger
    reason: str


def missed_heartbeat(
    last_beat_wall_ns: int | None, watching_since_ns: int, now_wall_ns: int, timeout_ns: int
) -> FlattenCall | None:
    """The node has not beaten for ``timeout_ns`` of wall time.

    Silence is counted from the later of the last beat and the watchdog's start: a node that never beat
    (or whose last beat is from before the watchdog came up, e.g. yesterday's) gets the full timeout to
    show it is alive before its positions are taken from it.
    """
    since = max(last_beat_wall_ns or 0, watching_since_ns)
    silent_ns = now_wall_ns - since
    if silent_ns < timeout_ns:
        return None
    seen = "never beat" if last_beat_wall_ns is None else f"last beat {silent_ns / NS_PER_SECOND:.0f} s ago"
    return FlattenCall(
        Trigger.MISSED_HEARTBEAT,
        f"the node is hung or dead: {seen} (timeout {timeout_ns / NS_PER_SECOND:.0f} s) while the broker"
        " shows positions",
    )


def eod_passed(session_ns: int, window: SessionWindow | None, grace_ns: int) -> FlattenCall | None:
    """The session's flatten time plus a grace has passed (the node should have flattened by then).

    ``window`` is the session of ``session_ns``'s trading date (None: no session that day, no deadline).
    """
    if window is None or session_ns < window.flatten_ns + grace_ns:
        return None
    return FlattenCall(
        Trigger.EOD,
        f"the EOD flatten ({_ny(window.flatten_ns)} ET) and its {grace_ns // MINUTE_NS} minutes' grace have"
        f" passed (session time {_ny(session_ns)} ET) with positions open",
    )


def flatten_call(
    *,
    holding: bool,
    now_wall_ns: int,
    session_ns: int | None,
    last_beat_wall_ns: int | None,
    watching_since_ns: int,
    window: SessionWindow | None,
    heartbeat_timeout_ns: int,
    eod_grace_ns: int,
) -> FlattenCall | None:
    """Whether the watchdog must flatten now. Nothing to do while the broker shows no position; the EOD
    comes first (a dead node past the deadline is reported as the deadline, the harder fact).
    ``session_ns`` is None when the gateway did not say its time: the heartbeat rule still applies."""
    if not holding:
        return None
    eod = None if session_ns is None else eod_passed(session_ns, window, eod_grace_ns)
    return eod or missed_heartbeat(last_beat_wall_ns, watching_since_ns, now_wall_ns, heartbeat_timeout_ns)


def leg_key(name: str) -> str:
    """One spelling of a leg for both sides of the reconciliation: the OCC symbol without padding or venue.

    IB's ``localSymbol`` ("SPXW  260313P06630000"), its unpadded form and a Nautilus id ("... .CBOE") are one
    leg; the project's symbology reads each (``data/symbology.py``). Anything else is compared as written.
    """
    for parse in (parse_occ, parse_option_id):
        try:
            key = parse(name.strip())
        except SymbologyError:
            continue
        return occ_symbol(key.root, key.expiry, key.right, key.strike).replace(" ", "")
    return "".join(name.split())


@dataclass(frozen=True, slots=True)
class Mismatch:
    leg: str
    broker: int
    node: int


def position_mismatches(broker: Mapping[str, int], node: Mapping[str, int]) -> list[Mismatch]:
    """Every leg whose net quantity differs between the broker and the node's durable record, by leg."""
    theirs = _by_leg(broker)
    ours = _by_leg(node)
    return [
        Mismatch(leg, theirs.get(leg, 0), ours.get(leg, 0))
        for leg in sorted(theirs.keys() | ours.keys())
        if theirs.get(leg, 0) != ours.get(leg, 0)
    ]


def _by_leg(positions: Mapping[str, int]) -> dict[str, int]:
    legs: dict[str, int] = {}
    for name, quantity in positions.items():
        key = leg_key(name)
        legs[key] = legs.get(key, 0) + int(quantity)
    return {leg: qty for leg, qty in legs.items() if qty != 0}


def _ny(ts_ns: int) -> str:
    return datetime.fromtimestamp(ts_ns / NS_PER_SECOND, NEW_YORK).strftime("%H:%M")
