"""report.html: self-contained, with the four pictures, the tables, the audit and the fill assumptions."""

from __future__ import annotations

import base64
import re

import pytest

from odte_nautilus.reports.audit import NO_NAKED_SHORT, AuditResult, Violation
from odte_nautilus.reports.html import write_report
from odte_nautilus.reports.summary import build_summary
from tests.run_folder_kit import GAMMA, THETA, decision, fills_frame, iso, position, positions_frame, write_run

SECTIONS = (
    "Equity curve",
    "Drawdown",
    "Daily P&amp;L distribution",
    "Refusals by reason",
    "Per-strategy results",
    "Exits by kind",
    "Invariant audit",
    "Fill assumptions",
)
ASSUMPTIONS = {
    "limit orders": "at the far touch: crossing the spread",
    "settlement": "SPXW cash-settled at the 16:00 index level",
}
PASSED = AuditResult(True, {"fills": 8, "instants": 2, "packages": 1, "entry_fills": 4})
PNG = b"\x89PNG\r\n\x1a\n"


def report(run_dir, positions, decisions, audit=PASSED, assumptions=ASSUMPTIONS) -> str:
    write_run(run_dir, fills_frame(), positions, decisions)
    path = write_report(run_dir, build_summary(positions, decisions), audit, assumptions)
    assert path == run_dir / "report.html"
    return path.read_text(encoding="utf-8")


def images(page: str) -> list[bytes]:
    return [base64.b64decode(data) for data in re.findall(r'src="data:image/png;base64,([^"]+)"', page)]


@pytest.fixture(scope="module")
def page(tmp_path_factory) -> str:
    """One report with trades and a refusal, rendered once for the tests that only read it."""
    positions = positions_frame(
        position("F-1", 120.0, closed=iso(11, 0)),
        position("G-1", -35.5, strategy=GAMMA, closed=iso(11, 30)),
    )
    decisions = [decision(THETA, True, "ALLOWED"), decision(GAMMA, False, "MAX_OPEN_PACKAGES_PER_SYMBOL")]
    return report(tmp_path_factory.mktemp("report") / "run-1", positions, decisions)


def test_report_has_every_section_and_four_embedded_pngs(page):
    for title in SECTIONS:
        assert f"<h2>{title}</h2>" in page
    pictures = images(page)
    assert len(pictures) == 4
    assert all(p.startswith(PNG) for p in pictures)


def test_report_is_self_contained(page):
    assert not re.search(r'(src|href)="(?!data:)', page)


def test_strategy_table_and_assumptions_are_in_the_page(page):
    assert f"<td>{THETA}</td>" in page and "<td>TOTAL</td>" in page
    assert "120.00" in page and "-35.50" in page and "MAX_OPEN_PACKAGES_PER_SYMBOL 1" in page
    assert "<dt>limit orders</dt><dd>at the far touch: crossing the spread</dd>" in page
    assert "PASSED" in page


def test_exits_by_kind_are_in_the_page(page):
    exits = page.split("<h2>Exits by kind</h2>", 1)[1].split("</section>", 1)[0]
    assert f"<td>{THETA}</td>" in exits and "<td>take_profit_full</td>" in exits


def test_empty_run_still_draws_four_pictures(tmp_path):
    page = report(tmp_path / "empty", positions_frame(), [], assumptions={})
    assert len(images(page)) == 4
    assert "No fill assumptions were stated" in page
    assert "Packages still open at the end of the run: 0" in page


def test_failed_audit_lists_violations(tmp_path):
    failed = AuditResult(False, {"fills": 1}, (Violation(NO_NAKED_SHORT, iso(10, 0), "SPX 2024-03-15 C: 1 short"),))
    page = report(tmp_path / "run", positions_frame(), [], audit=failed)
    assert "FAILED: 1 violation(s)" in page
    assert f"<td>{NO_NAKED_SHORT}</td><td>{iso(10, 0)}</td><td>SPX 2024-03-15 C: 1 short</td>" in page


def test_strings_from_the_run_are_escaped(tmp_path):
    evil = "<script>alert(1)</script>"
    positions = positions_frame(position("F-1", 10.0, strategy=evil, closed=iso(11, 0)))
    failed = AuditResult(False, {"fills": 1}, (Violation(NO_NAKED_SHORT, iso(10, 0), evil),))
    page = report(tmp_path / "run", positions, [decision(evil, False, "HARD_STOP")], failed, {evil: evil})
    assert "<script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
