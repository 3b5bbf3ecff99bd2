"""``odte report --date D [--run DIR]``: the daily report of one trading day of a run folder (``daily.py``)."""

from __future__ import annotations

import csv
from datetime import date
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from rich.console import Console
from rich.markup import escape

RUNS = Path("runs")
REFUSED_EXIT = 2  # as every odte command's refusal of a bad input: no crash, one line on stderr


def report(
    day: Annotated[str, typer.Option("--date", help="The trading day, YYYY-MM-DD (New York).", show_default=False)],
    run: Annotated[
        Path | None, typer.Option("--run", help="Run folder (default: the newest under runs/ with that day).")
    ] = None,
) -> None:
    """Write the day's report into the run folder: report-<D>.html (with plots) and report-<D>.json.

    P&L, trades, positions, max drawdown, VaR (historical and parametric, with their samples), exposure,
    win rate, average P&L, best and worst trades, errors, rejections, mismatches and exits by kind, the
    same for a backtest run folder and a paper one.
    """
    from odte_nautilus.reports.daily import DailyReportError, write_daily_report
    from odte_nautilus.reports.frames import RunDataError

    try:
        trading_day = date.fromisoformat(day)
    except ValueError:
        _refuse(f"--date {day!r}: not a date; expected YYYY-MM-DD, e.g. --date 2024-08-05")
    run_dir = run if run is not None else _newest_run(trading_day)
    try:
        paths = write_daily_report(run_dir, trading_day)
    except (DailyReportError, RunDataError) as exc:
        _refuse(str(exc))
    Console().print(f"daily report {trading_day}: {paths.html} and {paths.json.name}")


def _newest_run(day: date) -> Path:
    """The newest run folder under runs/ with a package of ``day`` (its ``positions.csv`` trading_date)."""
    candidates = sorted(RUNS.glob("*/positions.csv"), key=lambda p: p.stat().st_mtime, reverse=True)
    for positions in candidates:
        with open(positions, newline="", encoding="utf-8") as handle:
            if any(row.get("trading_date") == day.isoformat() for row in csv.DictReader(handle)):
                return positions.parent
    _refuse(f"no run folder under {RUNS}/ has a package on {day}; name one with --run DIR")


def _refuse(message: str) -> NoReturn:
    Console(stderr=True).print(f"[red]refused:[/red] {escape(' '.join(message.split()))}", soft_wrap=True)
    raise typer.Exit(REFUSED_EXIT)


def register(app: typer.Typer) -> None:
    app.command("report")(report)
