"""The audit journal: one JSON line per decision or control event, readable back, crash-tolerant."""

from __future__ import annotations

import json
import logging
import subprocess
import sys

import pytest

from odte_nautilus.risk.decision import Decision, ReasonCode
from odte_nautilus.risk.journal import RECOVERED, AuditJournal, JournalError, intent_summary, iso_utc, read
from odte_nautilus.risk.model import ExitKind
from tests.kit import entry, exit_of, fly_entry, long_strangle, ny_ns, short_straddle


@pytest.fixture
def path(tmp_path):
    return tmp_path / "logs" / "decisions.jsonl"


def test_a_refused_entry_carries_its_own_audit_trail(path):
    intent = entry(long_strangle(), qty=2, price=3.1, ts_ns=ny_ns(10, 0, 1))
    decision = Decision.refuse(ReasonCode.LOSS_STREAK_STOP, "3 consecutive losses: the day is stopped")
    with AuditJournal(path) as journal:
        journal.record(intent, decision)
    [line] = list(read(path))
    assert line == {
        "kind": "decision",
        "time": "2024-03-15T14:00:01.000000000Z",
        "ts_ns": ny_ns(10, 0, 1),
        "source": "strategy",
        "strategy": "GammaScalper-001",
        "intent": {
            "kind": "entry",
            "package": "P-1",
            "symbol": "SPX",
            "qty": 2,
            "price": 3.1,
            "legs": ["SPXW  240315C05120000.CBOE:1", "SPXW  240315P05080000.CBOE:1"],
            "exit_kind": None,
            "open_risk": pytest.approx(620.0),
        },
        "decision": {
            "allowed": False,
            "code": "LOSS_STREAK_STOP",
            "reason": "3 consecutive losses: the day is stopped",
            "size": 0,
        },
    }


def test_an_exit_names_its_exit_kind_and_short_legs(path):
    fly = fly_entry()
    with AuditJournal(path) as journal:
        journal.record(exit_of(fly, ExitKind.STOP_IV_EXPANSION), Decision.allow(1), ts_ns=ny_ns(11, 0))
    [line] = list(read(path))
    assert line["intent"]["exit_kind"] == "stop_iv_expansion"
    assert line["intent"]["legs"][:2] == ["SPXW  240315C05100000.CBOE:1", "SPXW  240315P05100000.CBOE:1"]
    assert line["ts_ns"] == ny_ns(11, 0)
    assert line["decision"]["allowed"] is True


def test_an_infinite_open_risk_is_written_as_valid_json(path):
    naked = entry(short_straddle(), strategy="ThetaHarvester-001", price=-20.0)
    with AuditJournal(path) as journal:
        journal.record(naked, Decision.refuse(ReasonCode.NO_NAKED_SHORT, "short call uncovered"))
    text = path.read_text()
    assert "Infinity" not in text
    json.loads(text, parse_constant=lambda name: pytest.fail(f"non-standard JSON constant {name}"))
    assert next(read(path))["intent"]["open_risk"] == "inf"


def test_generic_events_share_the_journal(path):
    with AuditJournal(path) as journal:
        journal.append("kill_switch", ts_ns=5, on=True, by="control-api", reason="emergency stop")
        journal.append("reset", ts_ns=6, target="global_breaker", by="alice")
    assert [(r["kind"], r["ts_ns"], r["by"]) for r in read(path)] == [
        ("kill_switch", 5, "control-api"),
        ("reset", 6, "alice"),
    ]


def test_an_event_needs_a_kind_and_cannot_forge_its_time(path):
    with AuditJournal(path) as journal:
        with pytest.raises(ValueError, match="kind"):
            journal.append("")
        with pytest.raises(ValueError, match="ts_ns"):
            journal.append("reset", time="2020-01-01T00:00:00Z")
    assert path.read_text() == ""


def test_reopening_appends_instead_of_truncating(path):
    with AuditJournal(path) as journal:
        journal.append("reset", ts_ns=1)
    with AuditJournal(path) as journal:
        journal.append("reset", ts_ns=2)
    assert [r["ts_ns"] for r in read(path)] == [1, 2]


def test_each_line_is_on_disk_before_append_returns(path):
    """A reader (or a crash) right after append sees the line: no waiting for close or a buffer to fill."""
    journal = AuditJournal(path)
    journal.append("decision", ts_ns=1)
    assert path.read_text().count("\n") == 1
    journal.close()


def test_a_sigkilled_writer_loses_nothing_it_wrote(path):
    script = (
        "import os, signal, sys\n"
        "from odte_nautilus.risk.journal import AuditJournal\n"
        "j = AuditJournal(sys.argv[1])\n"
        "for i in range(50):\n"
        "    j.append('decision', ts_ns=i)\n"
        "os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    result = subprocess.run([sys.executable, "-c", script, str(path)], check=False, timeout=60)
    assert result.returncode == -9
    assert [r["ts_ns"] for r in read(path)] == list(range(50))


def test_a_line_cut_short_by_a_crash_is_skipped_and_not_glued_to_the_next(path, caplog):
    with AuditJournal(path) as journal:
        journal.append("decision", ts_ns=1)
    with path.open("a") as handle:
        handle.write('{"kind": "decision", "ts_')  # the write a SIGKILL interrupted
    with caplog.at_level(logging.WARNING, logger="odte_nautilus.risk.journal"):
        assert [r["ts_ns"] for r in read(path)] == [1]
    with AuditJournal(path) as journal:
        journal.append("decision", ts_ns=2)
    records = list(read(path))
    assert [r["kind"] for r in records] == ["decision", RECOVERED, "decision"]
    assert records[-1]["ts_ns"] == 2
    assert "cut short by a crash" in caplog.text


def test_damage_in_the_middle_of_a_journal_is_refused_with_its_line(path):
    with AuditJournal(path) as journal:
        journal.append("decision", ts_ns=1)
    with path.open("a") as handle:
        handle.write("garbage\n")
    with AuditJournal(path) as journal:
        journal.append("decision", ts_ns=2)
    with pytest.raises(JournalError, match=r"decisions\.jsonl:2: not a JSON journal line"):
        list(read(path))


def test_iso_utc_keeps_the_nanoseconds_exactly():
    """An option quote comes 1 ns after its minute's index bar: the run folder must keep them apart."""
    assert iso_utc(1_710_511_200_123_456_789) == "2024-03-15T14:00:00.123456789Z"
    assert iso_utc(1_710_511_200_000_000_001) == "2024-03-15T14:00:00.000000001Z"
    assert iso_utc(0) == "1970-01-01T00:00:00.000000000Z"


def test_intent_summary_open_risk_comes_from_the_model():
    """One place computes open risk (model.max_loss): the journal reports it, never recomputes it."""
    fly = fly_entry(qty=2)
    assert intent_summary(fly)["open_risk"] == fly.open_risk == pytest.approx(2 * (20 * 100 - 1200))
