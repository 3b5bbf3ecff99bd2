"""The watchdog's own state without a gateway: a mismatch alerted only when it persists, the kill switch set
through the risk store, the journal's lines feeding the alerter."""

from __future__ import annotations

from datetime import date

import ib_async as ibi
import pytest

from odte_nautilus.live.alerts import Alerter, Target
from odte_nautilus.live.heartbeat import Heartbeat
from odte_nautilus.live.settings import load_settings
from odte_nautilus.live.watchdog import JOURNAL_FILE, Watchdog
from odte_nautilus.risk.journal import read
from odte_nautilus.risk.store import RiskStore
from odte_nautilus.risk.time_units import NS_PER_SECOND
from tests.live.kit import REPO

S = NS_PER_SECOND
ACCOUNT = "DU1234567"
CALL, WING = "SPXW  240315C05100000", "SPXW  240315C05110000"


class Clock:
    def __init__(self) -> None:
        self.now = 1_700_000_000 * S

    def __call__(self) -> int:
        return self.now


def position(local_symbol: str, qty: int, con_id: int) -> ibi.Position:
    return ibi.Position(ACCOUNT, ibi.Contract(conId=con_id, secType="OPT", localSymbol=local_symbol), qty, 100.0)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def watchdog(tmp_path, clock):
    settings = load_settings(REPO / "configs" / "paper.yaml")  # heartbeat_seconds 5: a mismatch confirms 10 s on
    pushed = Alerter([Target("test", lambda title, body, kind: True)], retries=0)
    dog = Watchdog(settings, tmp_path, account=ACCOUNT, env={}, alerter=pushed, wall_ns=clock)
    yield dog
    dog.close()


def test_a_mismatch_is_alerted_once_it_persists_two_beats(watchdog, clock, tmp_path, ib_loop):
    held = {1: position(CALL, -1, 1), 2: position(WING, 1, 2)}
    stale = Heartbeat(clock.now, 0, 4242, {f"{CALL}.CBOE": -1})  # the node has not seen the wing's fill yet

    def reconcile(beat):
        return ib_loop.run_until_complete(watchdog.reconcile(held, beat))

    assert reconcile(stale) == []  # seen once: a suspect
    clock.now += 9 * S
    assert reconcile(stale) == []  # not yet two beats later
    caught_up = Heartbeat(clock.now, 0, 4242, {f"{CALL}.CBOE": -1, f"{WING}.CBOE": 1})
    assert reconcile(caught_up) == []  # the node caught up: the suspicion is dropped
    assert reconcile(stale) == []  # seen again: a new suspect, with a fresh start
    clock.now += 10 * S
    [mismatch] = reconcile(stale)
    assert (mismatch.leg, mismatch.broker, mismatch.node) == ("SPXW240315C05110000", 1, 0)
    alerts = [r for r in read(tmp_path / JOURNAL_FILE) if r["kind"] == "alert"]
    assert [(a["about"], a["instrument"]) for a in alerts] == [("position_mismatch", "SPXW240315C05110000")]
    assert watchdog.alerter.drain(5)
    assert [a.category for _, a in watchdog.alerter.sent] == ["position_mismatch"]


def test_the_kill_switch_is_set_through_the_risk_store(watchdog, tmp_path):
    said = watchdog.set_kill_switch("the node is hung")
    assert said == f"on in {tmp_path / 'paper.sqlite'}"
    with RiskStore(tmp_path / "paper.sqlite") as store:
        day = store.load_day(date(2024, 3, 15))
        history = store.control_history("kill_switch")
    assert day.kill_switch and day.kill_switch_reason == "watchdog: the node is hung"
    assert [(e.action, e.by) for e in history] == [("on", "watchdog")]
