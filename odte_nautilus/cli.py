"""The ``odte`` command line: one entry point, ``--help`` on every command (docs/design.md)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from odte_nautilus.data.cli import DATA_ERROR_EXIT, catalog_app
from odte_nautilus.live.cli import register as register_live
from odte_nautilus.live.control_cli import register as register_control
from odte_nautilus.reports.daily_cli import register as register_report
from odte_nautilus.sweep.cli import register as register_sweep

app = typer.Typer(
    name="odte",
    help="0DTE SPX/SPY/QQQ options on NautilusTrader: catalogs, backtests and the paper node, under the risk kernel.",
    no_args_is_help=True,
    add_completion=False,
)
app.add_typer(catalog_app, name="catalog")
register_live(app)
register_control(app)
register_sweep(app)
register_report(app)
console = Console(width=None if Console().is_terminal else 140)  # a piped table keeps its columns
errors = Console(stderr=True)


def _refuse(error: Exception) -> NoReturn:
    """One line, ``refused: <file>: <key>: <reason>``, on stderr, and exit 2: a bad input is no crash."""
    errors.print(f"[red]refused:[/red] {escape(' '.join(str(error).split()))}", soft_wrap=True, highlight=False)
    raise typer.Exit(DATA_ERROR_EXIT)


@app.command()
def backtest(
    config: Annotated[Path, typer.Option("--config", dir_okay=False, help="Backtest config (YAML).")] = Path(
        "configs/backtest.yaml"
    ),
    catalog: Annotated[Path | None, typer.Option("--catalog", help="Catalog folder (overrides the config's).")] = None,
    out: Annotated[Path | None, typer.Option("--out", help="Run folder (default runs/<UTC time>).")] = None,
) -> None:
    """Run both strategies under the kernel over the catalog and write a run folder.

    With no arguments: builds the sample catalog if it is missing, then runs configs/backtest.yaml. The run
    folder gets summary.json, fills.csv (one row per leg fill), positions.csv (one row per package),
    decisions.jsonl (every kernel decision) and report.html. The run fails (exit 1) if the independent
    invariant audit finds a violation.
    """
    from odte_nautilus.backtest import BacktestConfigError, load_backtest_config, run_backtest, selected_sessions
    from odte_nautilus.data.checks import DataCheckError
    from odte_nautilus.reports import AuditFailed, render_table
    from odte_nautilus.risk.policy import PolicyError

    try:
        cfg = load_backtest_config(config, catalog=catalog)
    except BacktestConfigError as exc:
        _refuse(exc)
    if not (cfg.catalog / "data").is_dir():
        console.print(f"no catalog at {cfg.catalog}: building the sample market first")
        from odte_nautilus.data.cli import sample

        sample(path=cfg.catalog)
    run_dir = out or Path("runs") / datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    try:
        days = len(selected_sessions(cfg))
        columns = [
            TextColumn("[bold]backtest"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[day]}"),
            TimeElapsedColumn(),
        ]
        with Progress(*columns, console=console) as progress:
            task = progress.add_task("days", total=days, day="")
            result = run_backtest(cfg, run_dir, on_day=lambda day, _: progress.update(task, advance=1, day=str(day)))
    except (BacktestConfigError, DataCheckError, PolicyError) as exc:
        _refuse(exc)
    except AuditFailed as exc:
        console.print(f"[red]INVARIANT AUDIT FAILED[/red] (run folder {run_dir}):\n{exc}")
        raise typer.Exit(1) from None
    console.print(render_table(result.summary))
    fees = result.summary["fees"]
    console.print(
        f"fees: {fees['schedule']} at ${fees['charged_per_contract']:.2f} per contract;"
        f" ${fees['total_paid']:,.2f} paid on {fees['contracts']:,} contracts"
    )
    audit = result.summary["audit"]
    verdict = "passed" if audit["ok"] else "FAILED"
    console.print(f"invariant audit and fill check: {verdict}; {result.days} days, {result.quotes:,} quotes replayed")
    console.print(f"run folder: {run_dir} (report: {run_dir / 'report.html'})")


def main() -> None:
    app()
