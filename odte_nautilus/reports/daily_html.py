"""``report-<D>.html``: the page of a day's report (``daily.py`` computes it), a trader's one screen.

The project's report style (``html.py``): matplotlib figures rendered off-screen and embedded as PNG, so the
file travels alone, its tables and the per-strategy and exits tables of ``report.html`` itself, every string
from the run escaped.
"""

from __future__ import annotations

from html import escape

import pandas as pd
from matplotlib.axes import Axes
from matplotlib.dates import DateFormatter
from matplotlib.figure import Figure

from odte_nautilus.reports.html import (
    _STYLE,
    NEW_YORK,
    _cell,
    _empty,
    _exits_table,
    _figure,
    _img,
    _refusals_figure,
    _strategy_table,
)
from odte_nautilus.reports.summary import TOTAL, drawdown, equity_curve


def render_page(report: dict, summary: dict, closed: pd.DataFrame, risk_curve: pd.Series) -> str:
    """The page of a day's report (``daily.py``'s JSON, the day's summary, closed packages and open risk)."""
    sections = [
        ("The day", _headline(report)),
        ("Realized equity and drawdown", _img(_equity_figure(closed), "cumulative realized P&L and drawdown")),
        ("Trades", _img(_trades_figure(closed), "P&L of each closed package") + _trades_table(report["trades_list"])),
        ("Value at risk", _var_section(report["var"], closed["realized_pnl"])),
        ("Exposure", _img(_risk_figure(risk_curve), "open risk through the day") + _exposure_table(report["exposure"])),
        ("Per strategy", _strategy_table(summary)),
        ("Exits by kind", _exits_table(summary)),
        ("Positions", _positions_table(report["positions"])),
        ("Issues", _issues_section(report["issues"])),
        ("Refusals by reason", _img(_refusals_figure(report["issues"]["kernel_refusals"]), "kernel refusals")),
    ]
    body = "\n".join(f"<section><h2>{escape(t)}</h2>\n{h}\n</section>" for t, h in sections)
    day = escape(report["trading_date"])
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>Daily report {day}</title><style>{_STYLE}</style></head>\n<body>\n"
        f"<h1>Daily report {day}</h1><p>Run folder: <code>{escape(report['run_dir'])}</code>."
        " Times are New York's.</p>\n"
        f"{body}\n</body></html>\n"
    )


def _table(header: list[str], rows: list[list[object]], numeric: set[int] | None = None) -> str:
    numeric = numeric or set()
    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    body = "\n".join("<tr>" + "".join(_cell(v, i in numeric) for i, v in enumerate(row)) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>\n{body}</table>"


def _headline(r: dict) -> str:
    win = "-" if r["win_rate"] is None else f"{r['win_rate']:.1%}"
    best = r["best_trade"]["pnl"] if r["best_trade"] else None
    worst = r["worst_trade"]["pnl"] if r["worst_trade"] else None
    rows: list[list[object]] = [
        ["P&L (realized, after fees)", r["pnl"]],
        ["Trades (closed packages)", r["trades"]],
        ["Win rate", win],
        ["Average P&L per trade", r["avg_pnl"]],
        ["Best trade", best],
        ["Worst trade", worst],
        ["Max drawdown (realized)", r["max_drawdown"]],
        ["Fees", r["fees"]],
        ["Packages still open", r["open_packages"]],
        ["Peak open risk", r["exposure"]["peak_open_risk"]],
        [
            "Errors / rejections / mismatches",
            " / ".join(str(len(r["issues"][k])) for k in ("errors", "rejections", "mismatches")),
        ],
        ["Audit of the run", r["issues"]["audit"] or "-"],
    ]
    return _table(["", "USD or count"], rows, numeric={1})


def _trades_table(trades: list[dict]) -> str:
    if not trades:
        return "<p>No package closed this day.</p>"
    rows = [
        [t["package_id"], t["strategy"], t["structure"], t["quantity"], t["opened"], t["closed"], t["entry_price"],
         t["exit_price"], t["exit_kind"], t["pnl"]]
        for t in trades
    ]  # fmt: skip
    header = ["Package", "Strategy", "Structure", "Qty", "Opened", "Closed", "Entry", "Exit", "Exit kind", "P&L"]
    return _table(header, rows, numeric={3, 6, 7, 9})


def _positions_table(positions: list[dict]) -> str:
    if not positions:
        return "<p>No package this day.</p>"
    rows = [
        [p["package_id"], p["strategy"], p["symbol"], p["structure"], p["quantity"], p["status"], p["realized_pnl"]]
        for p in positions
    ]
    return _table(["Package", "Strategy", "Symbol", "Structure", "Qty", "Status", "Realized P&L"], rows, numeric={4, 6})


def _var_section(var: dict, pnl: pd.Series) -> str:
    parts = [
        "<p>VaR at 95 %, realized P&amp;L after fees, as a loss in USD (negative: even the tail made money);"
        " CVaR is the mean loss beyond it. Historical: the empirical 5 % quantile of the sample. Parametric:"
        " a normal law with the sample's mean and standard deviation (quantstats).</p>"
    ]
    rows = []
    for name, v in var.items():
        h, p = v.get("historical") or {}, v.get("parametric") or {}
        rows.append(
            [
                name.replace("_", " "),
                v["sample"],
                v["observations"],
                h.get("var"),
                h.get("cvar"),
                p.get("var"),
                p.get("cvar"),
            ]
        )
    parts.append(
        _table(
            ["VaR", "Sample", "n", "Historical VaR", "Historical CVaR", "Parametric VaR", "Parametric CVaR"],
            rows,
            numeric={2, 3, 4, 5, 6},
        )
    )
    notes = [f"<li>{escape(k.replace('_', ' '))}: {escape(v['note'])}</li>" for k, v in var.items() if v.get("note")]
    if notes:
        parts.append(f"<p>Limits:</p><ul>{''.join(notes)}</ul>")
    parts.append(_img(_var_figure(pnl, var["per_trade"]), "trade P&L with the per-trade VaR"))
    return "\n".join(parts)


def _exposure_table(e: dict) -> str:
    rows: list[list[object]] = [
        ["Peak open risk (USD)", e["peak_open_risk"]],
        ["Minutes in the market", e["minutes_in_market"]],
        ["Peak option contracts held (all legs)", e["peak_contracts_held"]],
    ]
    note = f"<p>Open risk: {escape(e['open_risk_measure'])}.</p>"
    if e.get("packages_without_open_risk"):
        note += f"<p>No entry decision found for: {escape(', '.join(e['packages_without_open_risk']))}.</p>"
    return _table(["", ""], rows, numeric={1}) + note


def _issues_section(i: dict) -> str:
    parts = []
    for key, title in (
        ("errors", "Errors"),
        ("rejections", "Order rejections (broker)"),
        ("mismatches", "Position mismatches"),
        ("paper_guard_failures", "Paper guard failures"),
        ("breakers_locks_and_stops", "Breakers, locks and stops"),
    ):
        items = i[key]
        if not items:
            parts.append(f"<p>{escape(title)}: none.</p>")
            continue
        header = list(items[0])
        parts.append(f"<h3>{escape(title)}</h3>" + _table(header, [[it.get(h) for h in header] for it in items]))
    refusals = ", ".join(f"{c} {n}" for c, n in i["kernel_refusals"].items()) or "none"
    parts.append(f"<p>Kernel refusals (not errors: the rules at work): {escape(refusals)}.</p>")
    return "\n".join(parts)


def _ny_index(series: pd.Series) -> pd.DatetimeIndex:
    return series.index.tz_convert(NEW_YORK).tz_localize(None)


def _from_zero(closed: pd.DataFrame) -> pd.Series:
    """The realized equity curve starting at 0 at the day's first entry, so one trade still draws a line."""
    curve = equity_curve(closed)
    start = pd.to_datetime(closed["opened_at"], utc=True, format="ISO8601").min()
    return pd.concat([pd.Series([0.0], index=pd.DatetimeIndex([start])), curve])


def _clock_axis(fig: Figure, ax: Axes) -> None:
    ax.xaxis.set_major_formatter(DateFormatter("%H:%M"))
    ax.set_xlabel("time (New York)")
    fig.autofmt_xdate()


def _equity_figure(closed: pd.DataFrame) -> Figure:
    if closed.empty:
        return _empty("no trades")
    fig, ax = _figure()
    for strategy in sorted(closed["strategy_id"].unique()):
        curve = _from_zero(closed[closed["strategy_id"] == strategy])
        ax.plot(_ny_index(curve), curve.to_numpy(), drawstyle="steps-post", label=strategy, linewidth=1.2)
    total = _from_zero(closed)
    ax.plot(_ny_index(total), total.to_numpy(), drawstyle="steps-post", label=TOTAL, color="black", linewidth=2)
    dd = drawdown(total)
    ax.fill_between(_ny_index(dd), dd.to_numpy(), 0.0, step="post", color="#b00020", alpha=0.3, label="drawdown")
    ax.axhline(0.0, color="#999", linewidth=0.8)
    ax.set_ylabel("realized P&L (USD)")
    ax.legend(loc="best", fontsize="small")
    _clock_axis(fig, ax)
    return fig


def _trades_figure(closed: pd.DataFrame) -> Figure:
    if closed.empty:
        return _empty("no trades")
    fig, ax = _figure()
    pnl = closed["realized_pnl"].to_numpy()
    labels = [f"{s}\n{str(k).split(';')[-1]}" for s, k in zip(closed["strategy_id"], closed["exit_kinds"], strict=True)]
    ax.bar(range(len(pnl)), pnl, color=["#17692b" if v > 0 else "#b00020" for v in pnl])
    ax.set_xticks(range(len(pnl)), labels, fontsize="x-small")
    ax.axhline(0.0, color="#999", linewidth=0.8)
    ax.set_ylabel("realized P&L (USD)")
    return fig


def _var_figure(pnl: pd.Series, var: dict) -> Figure:
    if pnl.empty:
        return _empty("no trades")
    fig, ax = _figure()
    ax.hist(pnl.to_numpy(), bins=min(20, max(5, len(pnl))), color="#3465a4", edgecolor="white")
    for name, color in (("historical", "#b00020"), ("parametric", "#c17d11")):
        figure = var.get(name)
        if figure and figure.get("var") is not None:
            ax.axvline(-figure["var"], color=color, linestyle="--", label=f"{name} VaR 95 %: {figure['var']:,.2f}")
    ax.set_xlabel(f"realized P&L per trade (USD), {len(pnl)} trade(s)")
    ax.set_ylabel("trades")
    if ax.get_legend_handles_labels()[0]:
        ax.legend(loc="best", fontsize="small")
    return fig


def _risk_figure(curve: pd.Series) -> Figure:
    if curve.empty:
        return _empty("no package open this day")
    fig, ax = _figure()
    ax.plot(_ny_index(curve), curve.to_numpy(), drawstyle="steps-post", color="#c17d11")
    ax.set_ylabel("open risk (USD)")
    _clock_axis(fig, ax)
    return fig
