"""write_run_outputs: the audit result lands in summary.json and the report before a failure is raised."""

from __future__ import annotations

import json

import pytest

from odte_nautilus.reports import AuditFailed, AuditRules, RunDataError, write_run_outputs
from tests.kit import DAY, session
from tests.run_folder_kit import (
    decision,
    fills_frame,
    fly_entry_fills,
    fly_exit_fills,
    iso,
    leg_fill,
    position,
    positions_frame,
    write_run,
)

RULES = AuditRules(max_open_packages_total=5, flatten_ns={DAY: session().flatten_ns})
ASSUMPTIONS = {"fills": "crossing the spread"}


def test_a_clean_run_writes_summary_and_report(tmp_path):
    fills = fills_frame(fly_entry_fills(iso(10, 0), "F-1"), fly_exit_fills(iso(11, 0), "F-1"))
    run = write_run(tmp_path / "run", fills, positions_frame(position("F-1", 80.0, closed=iso(11, 0))), [])
    summary, audit = write_run_outputs(run, RULES, ASSUMPTIONS)
    assert audit.ok
    on_disk = json.loads((run / "summary.json").read_text())
    assert on_disk == summary
    assert on_disk["audit"] == {"ok": True, "checked": audit.checked, "violations": []}
    assert on_disk["assumptions"] == ASSUMPTIONS
    assert on_disk["strategies"][-1]["pnl"] == 80.0
    assert "<img" in (run / "report.html").read_text()


def test_a_failed_audit_raises_after_writing_the_evidence(tmp_path):
    naked = fills_frame([leg_fill(iso(10, 0), "X-1", "C5100", "SELL")], [leg_fill(iso(15, 50), "X-2", "P5100", "BUY")])
    run = write_run(tmp_path / "run", naked, positions_frame(), [decision("ThetaHarvester-001", True, "ALLOWED")])
    with pytest.raises(AuditFailed, match=r"(?s)2 violation\(s\).*no_naked_short.*entry_after_flatten") as failure:
        write_run_outputs(run, RULES, ASSUMPTIONS)
    assert str(run) in str(failure.value)
    audit = json.loads((run / "summary.json").read_text())["audit"]
    assert audit["ok"] is False
    assert [v["rule"] for v in audit["violations"]] == ["no_naked_short", "entry_after_flatten"]
    assert "FAILED" in (run / "report.html").read_text()


def test_a_missing_file_is_named(tmp_path):
    run = write_run(tmp_path / "run", fills_frame(), positions_frame(), [])
    (run / "fills.csv").unlink()
    with pytest.raises(RunDataError, match=r"fills.csv: no such file"):
        write_run_outputs(run, RULES, ASSUMPTIONS)


def test_a_run_without_trades_or_refusals(tmp_path):
    run = write_run(tmp_path / "run", fills_frame(), positions_frame(), [])
    (run / "fills.csv").write_text("")  # a run that never traded may leave the file empty
    summary, audit = write_run_outputs(run, RULES, ASSUMPTIONS)
    assert audit.ok and audit.checked == {"fills": 0, "instants": 0, "packages": 0, "entry_fills": 0}
    assert summary["strategies"][-1]["trades"] == 0
    assert (run / "report.html").read_text().count("<img") == 4
