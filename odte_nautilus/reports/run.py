"""The run folder's reports, written after every backtest: ``summary.json`` and ``report.html``.

The audit result goes into ``summary.json`` and the report *before* a failed audit raises, so the run
fails loudly and still leaves the evidence on disk (issue 4).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

from odte_nautilus.data.catalog_io import QUOTE_INIT_DELAY_NS
from odte_nautilus.fees import FeeSchedule
from odte_nautilus.reports.audit import AuditFailed, AuditResult, AuditRules, audit_run
from odte_nautilus.reports.fill_check import check_fills
from odte_nautilus.reports.frames import (
    DECISIONS_FILE,
    FILLS_FILE,
    POSITIONS_FILE,
    SUMMARY_FILE,
    read_decisions,
    read_fills,
    read_positions,
)
from odte_nautilus.reports.html import write_report
from odte_nautilus.reports.summary import build_summary, cost_split, fee_summary


def write_run_outputs(
    run_dir: str | Path,
    rules: AuditRules,
    assumptions: Mapping[str, object],
    fees: FeeSchedule | None = None,
    catalog: str | Path | None = None,
    quote_delay_ns: int = QUOTE_INIT_DELAY_NS,
) -> tuple[dict, AuditResult]:
    """Audit the run folder's fills, write ``summary.json`` and ``report.html``; raise ``AuditFailed`` last.

    With the run's fee schedule, ``summary.json`` and the report get a ``fees`` block: the items per
    contract and the total the fills paid, in all and per strategy. With the catalog the run traded, the
    audit also holds the fill check (``fill_check.py``): legs inside their quotes, no stale quote, settlement
    at the closing level, money reconciled to the cent (``quote_delay_ns``: when a quote is seen after its
    stamp, ``QUOTE_INIT_DELAY_NS`` in the backtest engine, 0 for a broker's own fill stamps).
    """
    run_dir = Path(run_dir)
    positions = read_positions(run_dir / POSITIONS_FILE)
    fills = read_fills(run_dir / FILLS_FILE)
    audit = audit_run(fills, positions, rules)
    summary = build_summary(positions, read_decisions(run_dir / DECISIONS_FILE))
    if catalog is not None:
        pnl = {row["strategy"]: row["pnl"] for row in summary["strategies"]}
        audit = audit.with_findings(check_fills(fills, positions, catalog, pnl, quote_delay_ns))
    if fees is not None:
        summary["fees"] = fee_summary(fills, fees)
    if {"mid", "fee"} <= set(fills.columns):  # run folders written before the mids were recorded have none
        summary["cost_split"] = cost_split(fills, positions)
    summary["audit"] = audit.to_dict()
    summary["assumptions"] = {str(k): str(v) for k, v in assumptions.items()}
    (run_dir / SUMMARY_FILE).write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    write_report(run_dir, summary, audit, assumptions)
    if not audit.ok:
        raise AuditFailed(audit, run_dir)
    return summary, audit
