"""A backtest run folder's reports and the independent invariant audit (issue 4).

Pure pandas and matplotlib over the files the backtest writes (``fills.csv``, ``positions.csv``,
``decisions.jsonl``); nothing here imports Nautilus, so a run folder can be re-audited on its own.
"""

from odte_nautilus.reports.audit import AuditFailed, AuditResult, AuditRules, Violation, audit_run
from odte_nautilus.reports.frames import RunDataError
from odte_nautilus.reports.html import write_report
from odte_nautilus.reports.run import write_run_outputs
from odte_nautilus.reports.summary import render_table, summarize

__all__ = [
    "AuditFailed",
    "AuditResult",
    "AuditRules",
    "RunDataError",
    "Violation",
    "audit_run",
    "render_table",
    "summarize",
    "write_report",
    "write_run_outputs",
]
