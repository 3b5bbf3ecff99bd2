"""``report.html``: one self-contained page a trader can open from the run folder and trust.

Pictures, not only tables (issue 4): the equity curve, the drawdown, the daily P&L distribution and the
refusals by reason, next to the per-strategy table, the invariant audit and the fill assumptions the
figures rest on (an honest backtest states how it filled). Figures are PNGs rendered by matplotlib's Agg
canvas (no display, no global pyplot state) and embedded as base64, so the file travels alone. Every
string from the run is escaped.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Mapping
from html import escape
from pathlib import Path

import pandas as pd
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from odte_nautilus.fees import ITEM_LABELS
from odte_nautilus.reports.audit import AuditResult
from odte_nautilus.reports.frames import POSITIONS_FILE, REPORT_FILE, read_positions
from odte_nautilus.reports.summary import TOTAL, closed_packages, drawdown, equity_curve

NEW_YORK = "America/New_York"
_SIZE = (8.0, 3.2)

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 64em; color: #222; }
h1 { margin-bottom: 0.2em; } h2 { margin-top: 1.6em; border-bottom: 1px solid #ccc; }
table { border-collapse: collapse; } th, td { padding: 0.25em 0.7em; border-bottom: 1px solid #eee; }
td.num { text-align: right; font-variant-numeric: tabular-nums; } tr.total { font-weight: bold; }
.ok { color: #17692b; font-weight: bold; } .failed { color: #b00020; font-weight: bold; }
img { max-width: 100%; } dt { font-weight: bold; } dd { margin: 0 0 0.6em 1.5em; }
"""


def write_report(run_dir: str | Path, summary: dict, audit: AuditResult, assumptions: Mapping[str, object]) -> Path:
    """Write ``report.html`` into ``run_dir`` (which holds ``positions.csv``) and return its path."""
    run_dir = Path(run_dir)
    closed = closed_packages(read_positions(run_dir / POSITIONS_FILE))
    sections = [
        ("Equity curve", _img(_equity_figure(closed), "cumulative realized P&L")),
        ("Drawdown", _img(_drawdown_figure(closed), "drawdown from the running peak")),
        ("Daily P&L distribution", _img(_daily_figure(summary["daily_pnl"]), "histogram of daily P&L")),
        ("Refusals by reason", _img(_refusals_figure(summary["refusals"]), "kernel refusals by reason code")),
        ("Per-strategy results", _strategy_table(summary)),
        ("Exits by kind", _exits_table(summary)),
        *([("Where the money went", _cost_table(summary["cost_split"]))] if "cost_split" in summary else []),
        *([("Fees", _fees_section(summary["fees"]))] if "fees" in summary else []),
        ("Invariant audit", _audit_section(audit)),
        ("Fill assumptions", _assumptions(assumptions)),
    ]
    body = "\n".join(f"<section><h2>{escape(title)}</h2>\n{html}\n</section>" for title, html in sections)
    page = (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>Backtest report: {escape(run_dir.name)}</title><style>{_STYLE}</style></head>\n<body>\n"
        f"<h1>Backtest report</h1><p>Run folder: <code>{escape(run_dir.name)}</code></p>\n{body}\n</body></html>\n"
    )
    path = run_dir / REPORT_FILE
    path.write_text(page, encoding="utf-8")
    return path


# -- figures ------------------------------------------------------------------------------------------


def _figure() -> tuple[Figure, Axes]:
    fig = Figure(figsize=_SIZE, layout="constrained")
    FigureCanvasAgg(fig)
    return fig, fig.add_subplot()


def _empty(message: str) -> Figure:
    fig, ax = _figure()
    ax.text(0.5, 0.5, message, ha="center", va="center", fontsize=14, color="#777", transform=ax.transAxes)
    ax.set_axis_off()
    return fig


def _ny_times(curve: pd.Series) -> pd.DatetimeIndex:
    return curve.index.tz_convert(NEW_YORK).tz_localize(None)


def _equity_figure(closed: pd.DataFrame) -> Figure:
    if closed.empty:
        return _empty("no trades")
    fig, ax = _figure()
    for strategy in sorted(closed["strategy_id"].unique()):
        curve = equity_curve(closed[closed["strategy_id"] == strategy])
        ax.plot(_ny_times(curve), curve.to_numpy(), drawstyle="steps-post", label=strategy, linewidth=1.2)
    total = equity_curve(closed)
    ax.plot(_ny_times(total), total.to_numpy(), drawstyle="steps-post", label=TOTAL, color="black", linewidth=2)
    ax.axhline(0.0, color="#999", linewidth=0.8)
    ax.set_ylabel("realized P&L (USD)")
    ax.set_xlabel("close time (New York)")
    ax.legend(loc="best", fontsize="small")
    fig.autofmt_xdate()
    return fig


def _drawdown_figure(closed: pd.DataFrame) -> Figure:
    if closed.empty:
        return _empty("no trades")
    fig, ax = _figure()
    dd = drawdown(equity_curve(closed))
    ax.fill_between(_ny_times(dd), dd.to_numpy(), 0.0, step="post", color="#b00020", alpha=0.4)
    ax.set_ylabel("drawdown (USD)")
    ax.set_xlabel("close time (New York)")
    fig.autofmt_xdate()
    return fig


def _daily_figure(daily_pnl: Mapping[str, float]) -> Figure:
    if not daily_pnl:
        return _empty("no trades")
    fig, ax = _figure()
    values = list(daily_pnl.values())
    ax.hist(values, bins=min(20, max(5, len(values))), color="#3465a4", edgecolor="white")
    ax.axvline(0.0, color="#999", linewidth=0.8)
    ax.set_xlabel(f"daily realized P&L (USD), {len(values)} trading day(s)")
    ax.set_ylabel("days")
    return fig


def _refusals_figure(refusals: Mapping[str, int]) -> Figure:
    if not refusals:
        return _empty("no refusals")
    fig, ax = _figure()
    codes = list(refusals)[::-1]  # largest at the top
    ax.barh(codes, [refusals[c] for c in codes], color="#c17d11")
    ax.set_xlabel("refused intents")
    return fig


def _img(fig: Figure, alt: str) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100)
    data = base64.b64encode(buffer.getvalue()).decode("ascii")
    return f'<img alt="{escape(alt)}" src="data:image/png;base64,{data}">'


# -- tables -------------------------------------------------------------------------------------------


def _cell(value: object, numeric: bool = True) -> str:
    if value is None:
        text = "-"
    elif isinstance(value, float):
        text = f"{value:,.2f}"
    else:
        text = str(value)
    return f'<td class="num">{escape(text)}</td>' if numeric else f"<td>{escape(text)}</td>"


def _strategy_table(summary: dict) -> str:
    head = "".join(
        f"<th>{h}</th>"
        for h in ("Strategy", "Trades", "P&amp;L", "Max drawdown", "Win rate", "Avg P&amp;L", "Best", "Worst",
                  "Refusals by reason")
    )  # fmt: skip
    rows = []
    for row in summary["strategies"]:
        win_rate = None if row["win_rate"] is None else f"{row['win_rate']:.1%}"
        refusals = ", ".join(f"{code} {n}" for code, n in row["refusals"].items()) or "-"
        css = ' class="total"' if row["strategy"] == TOTAL else ""
        cells = [
            _cell(row["strategy"], numeric=False),
            _cell(row["trades"]),
            _cell(row["pnl"]),
            _cell(row["max_drawdown"]),
            _cell(win_rate),
            _cell(row["avg_pnl"]),
            _cell(row["best_trade"]),
            _cell(row["worst_trade"]),
            _cell(refusals, numeric=False),
        ]
        rows.append(f"<tr{css}>{''.join(cells)}</tr>")
    decisions = summary["decisions"]
    note = (
        f"<p>Kernel decisions: {decisions['allowed']} allowed, {decisions['refused']} refused."
        f" Packages still open at the end of the run: {summary['open_packages']}.</p>"
    )
    return f"<table><tr>{head}</tr>\n" + "\n".join(rows) + "</table>\n" + note


def _exits_table(summary: dict) -> str:
    """Each strategy's closed packages by the exit that closed them, with their realized P&L."""
    rows = "\n".join(
        f"<tr>{_cell(row['strategy'], False)}{_cell(kind, False)}{_cell(exit_['packages'])}{_cell(exit_['pnl'])}</tr>"
        for row in summary["strategies"]
        if row["strategy"] != TOTAL
        for kind, exit_ in row["exits"].items()
    )
    header = "<tr><th>Strategy</th><th>Exit</th><th>Packages</th><th>Realized P&amp;L (USD)</th></tr>"
    return f"<table>{header}\n{rows}</table>" if rows else "<p>No package closed.</p>"


def _cost_table(split: Mapping[str, Mapping[str, float]]) -> str:
    """Realized P&L = the market's move (mid to mid) - the spread paid - the fees (+ a residual of rounding)."""
    columns = ("realized_pnl", "market_move", "spread_paid", "fees", "residual")
    header = "".join(f"<th>{escape(c.replace('_', ' '))} (USD)</th>" for c in columns)
    rows = "\n".join(
        f"<tr>{_cell(name, False)}{''.join(_cell(part[c]) for c in columns)}</tr>" for name, part in split.items()
    )
    return (
        "<p>Realized P&amp;L = market move (the fills valued at their legs' mids) - spread paid - fees.</p>\n"
        f"<table><tr><th>Strategy</th>{header}</tr>\n{rows}</table>"
    )


def _fees_section(fees: Mapping) -> str:
    """The fee schedule item by item, what the engine charged per contract, and the total paid."""
    items = "\n".join(
        f"<tr>{_cell(ITEM_LABELS.get(item, item), False)}{_cell(item, False)}{_cell(f'{value:.5f}')}</tr>"
        for item, value in fees["per_contract_items"].items()
    )
    items_total, charged = fees["items_total_per_contract"], fees["charged_per_contract"]
    items += (
        f"\n<tr>{_cell('sum of the items', False)}{_cell('', False)}{_cell(f'{items_total:.5f}')}</tr>"
        f'\n<tr class="total">{_cell("charged per contract (rounded up to the cent)", False)}{_cell("", False)}'
        f"{_cell(f'{charged:.2f}')}</tr>"
    )
    paid = "\n".join(
        f"<tr>{_cell(name, False)}{_cell(row['contracts'])}{_cell(row['total_paid'])}</tr>"
        for name, row in fees["by_strategy"].items()
    )
    paid += f'\n<tr class="total">{_cell(TOTAL, False)}{_cell(fees["contracts"])}{_cell(fees["total_paid"])}</tr>'
    return (
        f"<p>Schedule <code>{escape(fees['schedule'])}</code>: {escape(fees['broker'])}, {escape(fees['product'])}."
        f" Source: {escape(fees['source'])}.</p>\n"
        f"<table><tr><th>Item</th><th>Key</th><th>USD per contract</th></tr>\n{items}</table>\n"
        f"<p>{escape(fees['notes'])}</p>\n"
        f"<table><tr><th>Strategy</th><th>Contracts charged</th><th>Fees paid (USD)</th></tr>\n{paid}</table>"
    )


def _audit_section(audit: AuditResult) -> str:
    status = (
        '<p class="ok">PASSED: no invariant was broken in the engine\'s own fills.</p>'
        if audit.ok
        else f'<p class="failed">FAILED: {len(audit.violations)} violation(s); the run is not to be trusted.</p>'
    )
    checked = ", ".join(f"{escape(str(k))}: {escape(str(v))}" for k, v in audit.checked.items())
    parts = [status, f"<p>Checked: {checked}.</p>"]
    if audit.violations:
        rows = "\n".join(
            f"<tr>{_cell(v.rule, False)}{_cell(v.ts, False)}{_cell(v.detail, False)}</tr>" for v in audit.violations
        )
        parts.append(f"<table><tr><th>Rule</th><th>Instant (UTC)</th><th>Detail</th></tr>\n{rows}</table>")
    return "\n".join(parts)


def _assumptions(assumptions: Mapping[str, object]) -> str:
    if not assumptions:
        return "<p>No fill assumptions were stated for this run.</p>"
    items = "".join(f"<dt>{escape(str(k))}</dt><dd>{escape(str(v))}</dd>" for k, v in assumptions.items())
    return f"<dl>{items}</dl>"
