"""``odte sweep``: registered on the ``odte`` app by ``register``."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

console = Console(width=None if Console().is_terminal else 140)
errors = Console(stderr=True)
INTERRUPTED_EXIT = 130


def sweep(
    config: Annotated[
        Path, typer.Option("--config", dir_okay=False, help="Sweep config (YAML), e.g. configs/sweep.yaml.")
    ] = Path("configs/sweep.yaml"),
    ray_address: Annotated[
        str | None,
        typer.Option(
            "--ray-address",
            help="Run on Ray instead of the local process pool. 'local' starts a Ray cluster of --workers CPUs"
            " on 127.0.0.1 for this sweep and stops it after; 'auto', HOST:PORT or ray://HOST:PORT joins a"
            " running cluster, whose workers must see the catalog and --out at the same paths.",
        ),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option("--out", help="Output folder (default runs/sweep-<config name>). The same folder resumes."),
    ] = None,
    workers: Annotated[
        int | None,
        typer.Option("--workers", min=1, help="Worker processes (default: the config's workers:, else one per CPU)."),
    ] = None,
    catalog: Annotated[Path | None, typer.Option("--catalog", help="Catalog folder (overrides the config's).")] = None,
) -> None:
    """Run a grid of backtests (strategy and risk parameters x date ranges) and compare them.

    Each run is `odte backtest`'s own runner, audited the same way, over the base backtest config with its
    parameters written in. SWEEP.yaml names the base config (backtest:), the parameters (grid: every
    combination; runs: a list of sets) as <Strategy>.<key>, risk.<key> or a backtest config key, and the
    date ranges (dates: [{start, end}] or [{split: N}]); configs/sweep.yaml is an example that says more.

    Writes, in --out: runs/<run>/ (each run's folder: summary.json, report.html, ...), sweep.parquet and
    sweep.csv (one row per run: parameters, trades, P&L, drawdown, win rate, fees, audit), sweep.html
    (the runs compared, a heatmap per pair of parameters). Rerunning the same command after a crash or
    Ctrl-C skips the finished runs. A failed run is reported with its error and the others go on. Exit
    status: 0 if every run finished and passed its audit, 1 if any failed, 2 if the config is refused.
    """
    from odte_nautilus.cli import _refuse  # the one way a command refuses its input (exit 2)
    from odte_nautilus.sweep.config import SweepConfigError, load_sweep_config
    from odte_nautilus.sweep.pool import PoolRunner
    from odte_nautilus.sweep.ray_runner import RayRunner
    from odte_nautilus.sweep.results import OK
    from odte_nautilus.sweep.run import plan, run_sweep

    try:
        loaded = load_sweep_config(config, catalog=catalog)
        target = (out or Path("runs") / f"sweep-{config.stem}").resolve()
        planned = plan(loaded, target)
    except SweepConfigError as exc:
        _refuse(exc)
    count = workers or loaded.config.workers or os.cpu_count() or 1
    runner = RayRunner(ray_address, count) if ray_address else PoolRunner(count)
    runs = planned.expansion.runs
    console.print(
        f"sweep {config}: {len(runs)} run(s), {sum(s.days for s in runs)} run-days, on {runner.describe()}"
        + (f"; {len(planned.done)} finished earlier (not redone)" if planned.done else "")
        + (f"; {n} duplicate parameter set(s) run once" if (n := planned.expansion.duplicates) else "")
    )
    labels = {s.key: s.label() for s in runs}
    tally = Tally(total=len(planned.todo), days_left={s.key: s.days for s in planned.todo})
    columns = [
        TextColumn("[bold]sweep"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("days  {task.fields[runs]}"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    ]
    with Progress(*columns, console=console) as progress:
        task = progress.add_task("days", total=sum(tally.days_left.values()), runs=tally.text())

        def on_event(kind: str, key: str, value: Any) -> None:
            if kind == "day" and key in tally.days_left:
                tally.days_left[key] -= 1
                progress.advance(task)
            elif kind == "done":
                progress.advance(task, tally.days_left.pop(key))  # the days a failed run did not reach count as gone
                tally.done += 1
                if value["status"] != OK:
                    tally.failed += 1
                    why = escape(str(value["error"]))
                    progress.console.print(f"[red]{escape(value['status'])}[/red] {key} ({escape(labels[key])}): {why}")
                progress.update(task, runs=tally.text())

        try:
            outcome = run_sweep(loaded, target, runner, on_event=on_event, planned=planned)
        except KeyboardInterrupt:
            progress.stop()
            errors.print(
                f"[yellow]interrupted[/yellow]: {tally.done} of {tally.total} run(s) finished this time;"
                f" the table so far is in {target}. Rerun the same command to resume (finished runs are not redone).",
                soft_wrap=True,
            )
            raise typer.Exit(INTERRUPTED_EXIT) from None
    frame = outcome.table
    console.print(_render(frame))
    for path in outcome.files:
        console.print(f"wrote {path}")
    bad = frame[frame["status"] != OK]
    if not bad.empty:
        errors.print(
            f"[red]{len(bad)} of {len(frame)} run(s) did not finish cleanly[/red]"
            f" ({', '.join(f'{n} {s}' for s, n in bad['status'].value_counts().items())}); see the errors above,"
            " each run's error.txt and sweep.html"
        )
        raise typer.Exit(1)


@dataclass
class Tally:
    """The progress bar's count of runs; its bar counts days, of every run together."""

    total: int
    days_left: dict[str, int]
    done: int = 0
    failed: int = 0

    def text(self) -> str:
        failed = f", [red]{self.failed} failed[/red]" if self.failed else ""
        return f"runs {self.done}/{self.total}{failed}"


def _render(frame: Any, top: int = 20) -> Table:
    """The best runs, a column per parameter headed by its last word (``wing_points``) when that is unique."""
    from odte_nautilus.sweep.html import label
    from odte_nautilus.sweep.results import parameter_columns

    params = parameter_columns(frame)
    keys = [p.removeprefix("param ") for p in params]
    short = [k.rsplit(".", 1)[-1] for k in keys]
    heads = short if len(set(short)) == len(short) else keys
    shown = frame.sort_values("pnl", ascending=False, na_position="last").head(top)
    more = f" (best {top} of {len(frame)})" if len(frame) > top else ""
    table = Table(title=f"Sweep results, best P&L first{more} (realized P&L after fees, USD)")
    for name in ("Run", *heads, "Dates", "Trades", "P&L", "Max DD", "Win", "Audit"):
        text = name in ("Run", "Dates")
        table.add_column(name, no_wrap=text, justify="left" if text else "right")
    for r in shown.to_dict("records"):
        ran = r["status"] in ("ok", "audit failed")
        table.add_row(
            r["run"],
            *(label(r[p]) for p in params),
            f"{r['start']}..{r['end']}",
            *(
                (
                    f"{r['trades']:.0f}",
                    f"{r['pnl']:+,.2f}",
                    f"{r['max_drawdown']:,.2f}",
                    _rate(r["win_rate"]),
                    "ok" if r["audit_ok"] else "[red]FAILED[/red]",
                )
                if ran
                else ("-", "-", "-", "-", f"[red]{escape(r['status'])}[/red]")
            ),
        )
    return table


def _rate(value: Any) -> str:
    return "-" if value is None or value != value else f"{value:.0%}"


def register(app: typer.Typer) -> None:
    app.command()(sweep)
