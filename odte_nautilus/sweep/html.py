"""``sweep.html``: the sweep's runs compared, with a heatmap of each pair of parameters it varied.

Drawn as ``report.html`` is (``odte_nautilus/reports/html.py``): matplotlib's Agg canvas, no pyplot state,
PNGs embedded as base64, every string from the runs escaped; one file that travels alone, linking to each
run's own report. A parameter set's figures are taken over all its date ranges (P&L, trades and fees summed,
the worst drawdown, the win rate over all its trades); a heatmap of two parameters averages over the others
and says so. Failed runs are listed with their errors, never drawn as zeros.
"""

from __future__ import annotations

import base64
import io
import itertools
import numbers
from html import escape
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import Normalize, TwoSlopeNorm
from matplotlib.figure import Figure
from matplotlib.patheffects import withStroke

from odte_nautilus.sweep.results import FAILED, OK, parameter_columns

HTML_FILE = "sweep.html"
MAX_PAIRS = 6
_READABLE = [withStroke(linewidth=2.5, foreground="white")]  # a cell's figure legible on any colour
# (column, title, colour map); P&L is centred on zero
HEAT = (
    ("pnl", "P&L (USD)", "RdYlGn"),
    ("max_drawdown", "worst drawdown (USD)", "Reds"),
    ("win_rate", "win rate", "Blues"),
)

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 72em; color: #222; }
h2 { margin-top: 1.6em; border-bottom: 1px solid #ccc; } img { max-width: 100%; }
table { border-collapse: collapse; } th, td { padding: 0.25em 0.6em; border-bottom: 1px solid #eee; }
td.num { text-align: right; font-variant-numeric: tabular-nums; } .failed { color: #b00020; font-weight: bold; }
"""


def write_comparison(frame: pd.DataFrame, out: Path, title: str = "sweep") -> Path:
    """Write ``<out>/sweep.html`` from the sweep's table and return its path."""
    ok = frame[frame["status"] == OK]
    per_set = by_parameter_set(ok)
    varied = [c for c in parameter_columns(per_set) if len(set(_labels(per_set[c]))) > 1]
    counts = frame["status"].value_counts().to_dict()
    head = ", ".join(f"{n} {escape(str(s))}" for s, n in counts.items())
    sections = [("Runs", f"<p>{len(frame)} runs: {head}.</p>{_split_note(frame)}")]
    sections += _pictures(per_set, varied, len(ok))
    bad = frame[frame["status"] != OK]
    if not bad.empty:
        sections.append(("Runs that did not finish cleanly", _table(bad, with_error=True)))
    ranked = frame.sort_values("pnl", ascending=False, na_position="last")
    sections.append(("Every run, best P&L first", _table(ranked)))
    body = "\n".join(f"<section><h2>{escape(name)}</h2>\n{html}\n</section>" for name, html in sections)
    page = (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>Sweep: {escape(title)}</title><style>{_STYLE}</style></head>\n<body>\n"
        f"<h1>Sweep: {escape(title)}</h1>\n{body}\n</body></html>\n"
    )
    path = out / HTML_FILE
    path.write_text(page, encoding="utf-8")
    return path


def _split_note(frame: pd.DataFrame) -> str:
    """What a split's parts are, said where their figures are read (docs/decisions/0010)."""
    if frame["part"].isna().all():
        return ""
    return (
        "<p>Runs with a <em>part</em> (3/12) are consecutive pieces of one date range, run side by side. Each part"
        " starts as a fresh account: the starting balance, no loss streak, the ladder at its first step, every"
        " breaker clear, and the strategies' own memory (the IV history) empty. A continuous run would carry all"
        " of these across; <em>risk_off_from</em> is the day a part's global breaker tripped, which needs a"
        " person's reset: after it a continuous run trades nothing.</p>"
    )


def by_parameter_set(ok: pd.DataFrame) -> pd.DataFrame:
    """One row per parameter set: its runs over every date range taken together."""
    params = parameter_columns(ok)
    if ok.empty:
        return pd.DataFrame(columns=[*params, "pnl", "trades", "max_drawdown", "win_rate", "ranges"])
    numbers = {c: pd.to_numeric(ok[c], errors="coerce").astype("float64") for c in ("pnl", "trades", "max_drawdown")}
    wins = pd.to_numeric(ok["win_rate"], errors="coerce").fillna(0.0) * numbers["trades"]
    frame = ok.assign(**numbers, wins=wins, key=ok[params].map(label).agg("|".join, axis=1) if params else "")
    grouped = frame.groupby("key", sort=False)
    out = grouped[params].first() if params else pd.DataFrame(index=grouped.size().index)
    out["pnl"] = grouped["pnl"].sum()
    out["trades"] = grouped["trades"].sum()
    out["max_drawdown"] = grouped["max_drawdown"].max()
    out["win_rate"] = grouped["wins"].sum() / out["trades"].where(out["trades"] > 0)  # no trades: no rate
    out["ranges"] = grouped.size()
    return out.reset_index(drop=True)


def _pictures(per_set: pd.DataFrame, varied: list[str], ok_runs: int) -> list[tuple[str, str]]:
    if per_set.empty:
        return [("Parameters", "<p>No run finished cleanly: nothing to compare.</p>")]
    ranges = int(per_set["ranges"].max())
    note = f"<p>Each parameter set over its {ranges} date range(s) taken together ({ok_runs} clean runs).</p>"
    if not varied:
        return [("Parameters", note + "<p>The sweep varied no parameter.</p>")]
    if len(varied) == 1:
        return [(f"By {_name(varied[0])}", note + _img(_bars(per_set, varied[0]), f"figures by {varied[0]}"))]
    sections = []
    for x, y in list(itertools.combinations(varied, 2))[:MAX_PAIRS]:
        others = [c for c in varied if c not in (x, y)]
        averaged = f"<p>Averaged over {', '.join(map(_name, others))}.</p>" if others else ""
        alt = f"heatmaps of {x} by {y}"
        sections.append((f"{_name(y)} by {_name(x)}", note + averaged + _img(_heatmaps(per_set, x, y), alt)))
    return sections


def _name(column: str) -> str:
    return column.removeprefix("param ")


def _figure(width: float, height: float, panels: int) -> tuple[Figure, list[Axes]]:
    fig = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)
    return fig, [fig.add_subplot(1, panels, i + 1) for i in range(panels)]


def _heatmaps(per_set: pd.DataFrame, x: str, y: str) -> Figure:
    fig, axes = _figure(4.2 * len(HEAT), 3.6, len(HEAT))
    for ax, (column, label, cmap) in zip(axes, HEAT, strict=True):
        xs, ys = _labels(per_set[x]), _labels(per_set[y])
        grid = (
            per_set.assign(_x=xs, _y=ys)
            .pivot_table(index="_y", columns="_x", values=column, aggfunc="mean", dropna=False)
            .reindex(index=_order(per_set[y]), columns=_order(per_set[x]))
        )
        values = grid.to_numpy(dtype="float64")
        norm = _norm(column, values[np.isfinite(values)])
        image = ax.imshow(values, cmap=cmap, norm=norm, aspect="auto", origin="lower")
        ax.set_xticks(range(len(grid.columns)), list(grid.columns))
        ax.set_yticks(range(len(grid.index)), list(grid.index))
        ax.set_xlabel(_name(x))
        ax.set_ylabel(_name(y))
        ax.set_title(label)
        for (i, j), value in np.ndenumerate(values):
            text = "-" if not np.isfinite(value) else f"{value:.0%}" if column == "win_rate" else f"{value:,.0f}"
            ax.text(j, i, text, ha="center", va="center", fontsize=8, path_effects=_READABLE)
        fig.colorbar(image, ax=ax, shrink=0.8)
    return fig


def _norm(column: str, finite: np.ndarray) -> Normalize:
    """P&L: red below zero, green above, whatever the range (an all-losing grid is all red); the win rate
    over 0-100 %; the drawdown from zero."""
    if column == "pnl":
        low = min(float(finite.min()), -1.0) if finite.size else -1.0
        high = max(float(finite.max()), 1.0) if finite.size else 1.0
        return TwoSlopeNorm(vcenter=0.0, vmin=low, vmax=high)
    if column == "win_rate":
        return Normalize(vmin=0.0, vmax=1.0)
    return Normalize(vmin=0.0, vmax=max(float(finite.max()), 1.0) if finite.size else 1.0)


def _bars(per_set: pd.DataFrame, x: str) -> Figure:
    fig, axes = _figure(4.2 * len(HEAT), 3.2, len(HEAT))
    frame = per_set.assign(_x=_labels(per_set[x])).set_index("_x").reindex(_order(per_set[x]))
    labels = list(frame.index)
    for ax, (column, label, _) in zip(axes, HEAT, strict=True):
        values = frame[column].astype("float64").to_numpy()
        colors = ["#b00020" if column == "pnl" and v < 0 else "#3465a4" for v in values]
        ax.bar(labels, np.nan_to_num(values), color=colors)
        ax.set_xlabel(_name(x))
        ax.set_title(label)
    return fig


def _number(value: object) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and not np.isnan(float(value))


def label(value: object) -> str:
    """A parameter value as an axis label: ``none`` for a null (e.g. no take-profit), 25 for 25.0."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return "none"
    if _number(value) and float(value).is_integer():  # type: ignore[arg-type]
        return str(int(value))  # type: ignore[call-overload]
    return str(value)


def _labels(values: pd.Series) -> list[str]:
    return [label(v) for v in values]


def _order(values: pd.Series) -> list[str]:
    """Axis labels in order: ``none`` and other text first, then numbers by value."""
    ordered = [label(v) for v in sorted({float(v) for v in values if _number(v)})]
    others = sorted({label(v) for v in values} - set(ordered), key=lambda text: (text != "none", text))
    return others + ordered


def _img(fig: Figure, alt: str) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90)
    data = base64.b64encode(buffer.getvalue()).decode("ascii")
    return f'<img alt="{escape(alt)}" src="data:image/png;base64,{data}">'


def _table(frame: pd.DataFrame, with_error: bool = False) -> str:
    params = parameter_columns(frame)
    columns = [*params, "start", "end", "days", "part", "status"]
    columns += ["error"] if with_error else ["trades", "pnl", "max_drawdown", "win_rate", "fees", "audit_ok"]
    columns += [] if with_error else ["risk_off_from"]
    head = "".join(f"<th>{escape(_name(c))}</th>" for c in columns) + "<th>run</th>"
    lines = []
    for record in frame.to_dict("records"):
        cells = "".join(_cell(c, record.get(c)) for c in columns)
        target = "error.txt" if record["status"] == FAILED else "report.html"
        link = f'<a href="{escape(str(record["run_dir"]))}/{target}">{escape(str(record["run"]))}</a>'
        lines.append(f"<tr>{cells}<td>{link}</td></tr>")
    return f"<table><tr>{head}</tr>\n" + "\n".join(lines) + "</table>"


def _cell(column: str, value: object) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return '<td class="num">-</td>'
    if column == "status":
        css = "" if value == OK else ' class="failed"'
        return f"<td{css}>{escape(str(value))}</td>"
    if column == "win_rate" and isinstance(value, float):
        return f'<td class="num">{value:.1%}</td>'
    if isinstance(value, float):
        return f'<td class="num">{value:,.2f}</td>'
    if column == "error" or value == FAILED:
        return f"<td>{escape(str(value))}</td>"
    return f'<td class="num">{escape(str(value))}</td>'
