"""``odte catalog ...``: build the sample market, import vendor data, print a catalog's sanity figures.

Registered by ``odte_nautilus.cli`` with ``app.add_typer(catalog_app, name="catalog")``. Data errors
(``checks.DataCheckError`` and the importers' format errors) end the command with exit code 2 and the
error's file, row and fix; nothing is written in that case.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

if TYPE_CHECKING:
    from odte_nautilus.data.importing import ImportReport

DEFAULT_PATH = Path("catalog")
DATA_ERROR_EXIT = 2

catalog_app = typer.Typer(
    help="The market-data catalog: the calibrated synthetic SPXW 0DTE sample, importers, sanity figures.",
    no_args_is_help=True,
)
import_app = typer.Typer(
    help="Import real data (Databento OPRA DBN, vendor CSV) into the catalog, checked.", no_args_is_help=True
)
catalog_app.add_typer(import_app, name="import")

console = Console(stderr=True)

PathOption = Annotated[Path, typer.Option("--path", help="Catalog folder (a Nautilus ParquetDataCatalog).")]
UnderlyingOption = Annotated[str, typer.Option("--underlying", help="SPX (SPXW options), SPY or QQQ.")]
IndexOption = Annotated[
    Path,
    typer.Option(
        "--index",
        exists=True,
        dir_okay=False,
        help="The underlying's own 1-minute bars: CSV ts,open,high,low,close[,volume] (ts = bar close, New York "
        "local unless offset) or a Databento ohlcv-1m DBN file. An index must carry no volume.",
    ),
]
RootsOption = Annotated[
    list[str] | None,
    typer.Option("--root", help="Option roots to import (repeatable); default: the PM-settled 0DTE root (SPXW / SPY)."),
]
SkipOption = Annotated[
    bool,
    typer.Option(
        "--skip-non-0dte", help="Drop quotes of options not expiring in their quote's session instead of refusing them."
    ),
]


@contextmanager
def _quote_progress(label: str, total: int | None) -> Iterator[Callable[[int], None]]:
    """A rich progress bar counting quotes; yields the callback the writers call per written file."""
    columns = [TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn()]
    with Progress(*columns, console=console, transient=False) as progress:
        task = progress.add_task(label, total=total)
        yield lambda n: progress.advance(task, n)


def _refuse(error: Exception) -> NoReturn:
    console.print(f"[red]refused:[/red] {escape(str(error))}", soft_wrap=True)
    raise typer.Exit(DATA_ERROR_EXIT)


@catalog_app.command()
def sample(
    days: Annotated[int, typer.Option("--days", min=1, help="Trading sessions to generate.")] = 20,
    path: PathOption = DEFAULT_PATH,
    underlying: UnderlyingOption = "SPX",
    seed: Annotated[int, typer.Option("--seed", help="Same seed, same bytes.")] = 10,
    freq: Annotated[str, typer.Option("--freq", help="Quote interval: 1m or 1s.")] = "1m",
    start: Annotated[
        str,
        typer.Option(
            "--start",
            help="First session (YYYY-MM-DD); the default window covers the 2024-08-05 crash-and-IV-crush day.",
        ),
    ] = "2024-07-22",
    strikes: Annotated[int, typer.Option("--strikes", min=1, help="Strikes either side of the opening ATM.")] = 40,
) -> None:
    """Write the calibrated synthetic 0DTE market (deterministic from --seed) as a Nautilus catalog."""
    from odte_nautilus.data.sample import FREQUENCIES, SampleConfig, SampleConflictError, build_sample
    from odte_nautilus.risk.session import TradingCalendar

    try:
        config = SampleConfig(
            days=days,
            seed=seed,
            underlying=underlying.upper(),
            freq=freq,
            start=date.fromisoformat(start),
            strikes_each_side=strikes,
        )
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from exc
    instruments = 2 * (2 * strikes + 1)
    total = sum(
        instruments * (s.seconds // FREQUENCIES[freq]) for s in TradingCalendar().sessions_from(config.start, days)
    )
    started = time.perf_counter()
    try:
        with _quote_progress(f"sample {underlying.upper()} seed {seed}", total) as advance:
            report = build_sample(path, config, on_quotes=advance)
    except SampleConflictError as exc:
        _refuse(exc)
    seconds = time.perf_counter() - started
    console.print(
        f"{report.sessions} sessions ({report.written} written, {report.quotes:,} quotes) in {seconds:.1f} s -> {path}",
        soft_wrap=True,
    )


@catalog_app.command()
def stats(path: PathOption = DEFAULT_PATH) -> None:
    """Print what the catalog holds and its sanity figures beside the published bands."""
    from odte_nautilus.data.stats import catalog_stats, stats_rows

    if not path.exists():
        _refuse(FileNotFoundError(f"no catalog at {path}: run `odte catalog sample` or an import first"))
    result = catalog_stats(path)
    out = Console()
    out.print(
        f"catalog {path}: {result.sessions} sessions ({', '.join(result.underlyings) or '-'}), "
        f"{result.instruments:,} option instruments, {result.quotes:,} quotes",
        soft_wrap=True,
    )
    table = Table(title="Sanity figures (published: Vilkov 2026, SPXW 0DTE 2016-2026; persistence: VIX history)")
    for column in ("figure", "this catalog", "published", "band", "verdict"):
        table.add_column(column)
    for row in stats_rows(result):
        table.add_row(*row)
    out.print(table)


@import_app.command("databento")
def import_databento_cmd(
    files: Annotated[
        list[Path],
        typer.Argument(
            exists=True, dir_okay=False, help="OPRA definition and quote DBN files (cbbo-1s/1m, tcbbo, mbp-1)."
        ),
    ],
    index: IndexOption,
    path: PathOption = DEFAULT_PATH,
    underlying: UnderlyingOption = "SPX",
    root: RootsOption = None,
    skip_non_0dte: SkipOption = False,
) -> None:
    """Import Databento OPRA files through Nautilus's loader, with its known traps fixed."""
    from odte_nautilus.data.import_databento import import_databento

    _run_import(
        lambda advance: import_databento(files, index, path, underlying.upper(), _roots(root), skip_non_0dte, advance),
        path,
    )


@import_app.command("csv")
def import_csv_cmd(
    files: Annotated[list[Path], typer.Argument(exists=True, dir_okay=False, help="Vendor quote CSV files.")],
    index: IndexOption,
    layout: Annotated[str, typer.Option("--layout", help="cboe, thetadata or massive (see catalog/README.md).")],
    path: PathOption = DEFAULT_PATH,
    underlying: UnderlyingOption = "SPX",
    root: RootsOption = None,
    skip_non_0dte: SkipOption = False,
) -> None:
    """Import vendor CSV quotes through a declared column layout."""
    from odte_nautilus.data.import_csv import import_csv

    _run_import(
        lambda advance: import_csv(
            files, layout, index, path, underlying.upper(), _roots(root), skip_non_0dte, advance
        ),
        path,
    )


def _roots(root: list[str] | None) -> tuple[str, ...] | None:
    return tuple(r.upper() for r in root) if root else None


def _run_import(job: Callable[[Callable[[int], None]], ImportReport], path: Path) -> None:
    from odte_nautilus.data.checks import DataCheckError
    from odte_nautilus.data.import_csv import CsvFormatError
    from odte_nautilus.data.import_databento import DatabentoFileError
    from odte_nautilus.data.importing import ImportConflictError
    from odte_nautilus.data.symbology import SymbologyError

    try:
        with _quote_progress("import", None) as advance:
            report = job(advance)
    except (DataCheckError, CsvFormatError, DatabentoFileError, ImportConflictError, SymbologyError) as exc:
        _refuse(exc)
    message = f"imported {len(report.sessions)} sessions, {report.options} options, {report.quotes:,} quotes -> {path}"
    if report.skipped_roots:
        message += "; skipped rows of other roots: " + ", ".join(f"{r} {n}" for r, n in report.skipped_roots.items())
    if report.skipped_non_0dte:
        message += f"; skipped non-0DTE rows: {report.skipped_non_0dte}"
    console.print(message, soft_wrap=True)
