"""A year of 0DTE through the sweep runner, against a do-nothing strategy, on Ray at 1 and 2 workers (issue 13).

Run: ``.venv/bin/python benchmarks/bench_sweep.py [--catalog DIR] [--days 252] [--workers 2] [--parts N]
[--no-ray] [--no-year-run]``

Target: 252 trading days of 1-minute SPXW quotes over +-40 strikes, both strategies, every check on, in
<= 2 minutes of wall time on this 2-core machine through the sweep runner, the days split across workers.

What runs, each through ``odte_nautilus.sweep.run.run_sweep`` (the code of ``odte sweep``: the runs, the
table and the page, all inside the wall time), over the same catalog and days:

[0] without ``--catalog``: ``odte catalog sample``'s build of the catalog, timed (target <= 60 s for a year,
    both cores).
[1] the year on the local process pool of ``--workers``: configs/backtest.yaml (both strategies, the
    multi_strategy_paper profile), the sessions cut into ``--parts`` consecutive parts, one run each (by
    default one part per worker: the fewest boundaries that keep every worker busy, and the fewest fresh
    processes, each ~3 s of start and imports)
    (``dates: [{split: N}]``). Each part starts as a fresh account (docs/decisions/0010: the starting
    balance, no loss streak, the ladder's first step, the breakers clear, no IV history): state that crosses
    a part boundary is not carried, and the table's ``risk_off_from`` shows where a continuous run would
    have stopped trading. [5] runs the year as one run, which carries it, and the output compares the two.
[2] the same sweep with the do-nothing strategy of ``bench_backtest.py`` in place of the strategies (it
    reaches as far, so both replay the same quotes): the ratio of the two wall times is the strategies'
    throughput against the engine's own.
[3] [1]'s sweep on a local Ray cluster of 1 worker, then of 2; the ratio of their wall times is the scaling.
[4] where the time goes: one run of the first 20 sessions in this process, clocked as ``bench_backtest.py``
    clocks it (the engine's replay, the catalog reads around it, the set-up, audit and reports).
[5] the year as ONE run in one process (pool of 1): state carried honestly from the first day to the last,
    and the peak resident memory of that process after 20 and after 252 days (``sweep_run.json`` keeps the
    peak after each day). One core: the days of one run are sequential (docs/decisions/0010).

The catalog is built once (``--catalog`` reuses one: ``odte catalog sample --days 252 --strikes 40``).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # benchmarks.* (the do-nothing strategy)

from benchmarks.bench_backtest import STRIKES, sample_catalog, strategies_of, timed_run
from benchmarks.budget import machine_load
from odte_nautilus.backtest import DEFAULT_CONFIG, load_backtest_config, strike_reach
from odte_nautilus.sweep.config import load_sweep_config
from odte_nautilus.sweep.pool import PoolRunner
from odte_nautilus.sweep.ray_runner import LOCAL, RayRunner
from odte_nautilus.sweep.results import read_record, run_dir
from odte_nautilus.sweep.run import run_sweep
from odte_nautilus.sweep.runner import Runner

TARGET_YEAR_S = 120.0
TARGET_RATIO = 0.8
TARGET_SAMPLE_S = 60.0  # odte catalog sample, a year of days, on both cores


def idle_entry() -> dict:
    """The do-nothing strategy as a config entry, reaching as far as configs/backtest.yaml's strategies."""
    reach = strike_reach(strategies_of(load_backtest_config(DEFAULT_CONFIG))())
    return {
        "strategy_path": "benchmarks.bench_backtest:Idle",
        "config_path": "benchmarks.bench_backtest:IdleConfig",
        "config": {"order_id_tag": "900", "strike_reach_points": reach},
    }


@dataclass(frozen=True)
class Swept:
    wall_s: float
    table: pd.DataFrame
    out: Path

    @property
    def quotes(self) -> int:
        return int(self.table["quotes"].sum())

    def line(self) -> str:
        runs = self.table
        return (
            f"{self.wall_s:7.1f} s wall, {len(runs)} run(s) of {'/'.join(map(str, runs['days']))} days,"
            f" {self.quotes:,} quotes ({self.quotes / self.wall_s:,.0f}/s); in the runs {runs['wall_s'].sum():.1f} s"
            f" (longest {runs['wall_s'].max():.1f} s); trades {runs['trades'].sum():.0f},"
            f" P&L {runs['pnl'].sum():+,.2f}, audits {'passed' if runs['audit_ok'].all() else 'FAILED'}"
        )


def write_sweep(scratch: Path, name: str, catalog: Path, parts: int, strategies: list | None = None) -> Path:
    """A SWEEP.yaml over the whole catalog in ``parts`` consecutive parts; ``strategies`` replace the base's."""
    backtest = DEFAULT_CONFIG
    if strategies is not None:
        base = load_backtest_config(DEFAULT_CONFIG).model_dump(mode="json") | {"strategies": strategies}
        backtest = scratch / f"{name}-backtest.yaml"
        backtest.write_text(yaml.safe_dump(base))
    path = scratch / f"{name}.yaml"
    path.write_text(yaml.safe_dump({"backtest": str(backtest), "catalog": str(catalog), "dates": [{"split": parts}]}))
    return path


def sweep(config: Path, out: Path, runner: Runner, label: str) -> Swept:
    print(f"  {label}: {runner.describe()} ...", flush=True)
    started = time.perf_counter()

    def on_event(kind: str, key: str, row: dict) -> None:
        if kind == "done":
            print(
                f"    run {key} {row['start']}..{row['end']}: {row['status']}, {row['wall_s']} s,"
                f" peak {row['peak_rss_mb']} MB ({time.perf_counter() - started:.0f} s in)",
                flush=True,
            )

    outcome = run_sweep(load_sweep_config(config), out, runner, on_event=on_event)
    swept = Swept(time.perf_counter() - started, outcome.table, outcome.out)
    if (swept.table["status"] != "ok").any():
        raise SystemExit(f"{label}: a run did not finish cleanly:\n{swept.table[['run', 'status', 'error']]}")
    print(f"  {label}: {swept.line()}", flush=True)
    return swept


def peaks_by_day(swept: Swept) -> list[float]:
    """The peak resident memory of the first run's process after each of its days (MB)."""
    return read_record(run_dir(swept.out, swept.table.loc[0, "run"]))["rss_mb_by_day"]


def breakdown(catalog: Path, scratch: Path, days: int) -> str:
    """Where one run's time goes over the first ``days`` sessions of the catalog (bench_backtest's clocks)."""
    every = sorted(set(_session_days(catalog)))
    first, last = every[0], every[: min(days, len(every))][-1]
    config = load_backtest_config(DEFAULT_CONFIG, catalog=catalog, start=first, end=last)
    t = timed_run(config, strategies_of(config), scratch / f"breakdown-{days}")
    per_day = 1000 / t.days
    return (
        f"    the first {t.days} of the catalog's {len(every)} sessions: {t.wall_s:.1f} s;"
        f" engine replay {t.replay_s:.1f} s"
        f" ({t.replay_s * per_day:.0f} ms a day, cpu {t.replay_cpu_s * per_day:.0f} ms), catalog reads and clears"
        f" {t.loop_s - t.replay_s:.1f} s ({(t.loop_s - t.replay_s) * per_day:.0f} ms a day), set-up, end of run,"
        f" audit and reports {t.wall_s - t.loop_s:.1f} s"
    )


def _session_days(catalog: Path) -> list:
    from odte_nautilus.data.catalog_io import catalog_sessions

    return [s.session.trading_date for s in catalog_sessions(catalog)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--catalog", type=Path, help=f"a +-{STRIKES}-strike catalog (default: built in a temp folder)")
    parser.add_argument("--days", type=int, default=252, help="sessions of the catalog built when none is given")
    parser.add_argument("--workers", type=int, default=2, help="pool workers (and the larger Ray cluster)")
    parser.add_argument("--parts", type=int, help="consecutive parts the year is cut into (default: --workers)")
    parser.add_argument("--no-ray", action="store_true", help="leave out [3], the Ray runs")
    parser.add_argument("--no-year-run", action="store_true", help="leave out [5], the year as one run")
    args = parser.parse_args()
    args.parts = args.parts or args.workers
    print(machine_load(), flush=True)

    with tempfile.TemporaryDirectory(prefix="odte-bench-sweep-") as tmp:
        scratch = Path(tmp)
        started = time.perf_counter()
        catalog = args.catalog or sample_catalog(scratch, args.days)
        built = None if args.catalog else time.perf_counter() - started
        days = len(set(_session_days(catalog)))
        strategies = write_sweep(scratch, "strategies", catalog, args.parts)
        idle = write_sweep(scratch, "idle", catalog, args.parts, strategies=[idle_entry()])
        print(f"\n[1] {days} sessions of {catalog}, both strategies, in {args.parts} parts", flush=True)
        year = sweep(strategies, scratch / "year", PoolRunner(args.workers), "strategies")
        print("\n[2] the same days and parts, the do-nothing strategy", flush=True)
        quiet = sweep(idle, scratch / "idle", PoolRunner(args.workers), "do-nothing")
        ray_runs = []
        if not args.no_ray:
            print("\n[3] Ray: the same sweep on 1 worker, then on 2", flush=True)
            for workers in (1, args.workers):
                ray_runs.append(sweep(strategies, scratch / f"ray-{workers}", RayRunner(LOCAL, workers), "ray"))
        print("\n[4] where the time goes", flush=True)
        where = [breakdown(catalog, scratch, 20)]
        whole = None
        if not args.no_year_run:
            print("\n[5] the year as one run, in one process", flush=True)
            whole = sweep(write_sweep(scratch, "whole", catalog, 1), scratch / "whole", PoolRunner(1), "one run")

        print("\n=== results ===")
        print(machine_load())
        if built is not None:
            verdict = "meets" if built <= TARGET_SAMPLE_S else "OVER"
            print(f"[0] catalog sample, {days} sessions: {built:.1f} s, {verdict} the target <= {TARGET_SAMPLE_S:g} s")
        verdict = "meets" if year.wall_s <= TARGET_YEAR_S else f"OVER by {year.wall_s - TARGET_YEAR_S:.0f} s"
        print(f"[1] the year, {days} sessions, both strategies, pool of {args.workers}: {year.line()}")
        print(f"    wall {year.wall_s:.1f} s: {verdict} the target <= {TARGET_YEAR_S:.0f} s")
        tripped = year.table["risk_off_from"].dropna()
        print(
            f"    split: {len(year.table)} consecutive parts of {year.table['days'].min()}-{year.table['days'].max()}"
            " sessions, each a fresh account: the NAV, the loss streak, the ladder, the breakers a person must"
            f" reset and the IV history start afresh at the {len(year.table) - 1} part boundaries ([5] carries"
            f" them); the global breaker tripped in {len(tripped)} part(s)"
            + (f", first on {tripped.min()}: a continuous run trades nothing after it" if len(tripped) else "")
        )
        ratio = quiet.wall_s / year.wall_s
        print(f"[2] do-nothing over the same days and parts: {quiet.line()}")
        print(
            f"    strategies / do-nothing throughput (wall, same sweep runner): {ratio:.2f}"
            f" ({'meets' if ratio >= TARGET_RATIO else 'BELOW'} {TARGET_RATIO}; in-run time"
            f" {quiet.table['wall_s'].sum() / year.table['wall_s'].sum():.2f})"
        )
        if ray_runs:
            one, two = ray_runs
            print(f"[3] ray, 1 worker: {one.line()}")
            print(f"    ray, {args.workers} workers: {two.line()}")
            print(f"    scaling 1 -> {args.workers} workers: {one.wall_s / two.wall_s:.2f}x (wall)")
        peaks = peaks_by_day(year)
        print(
            f"    peak resident memory of a pool worker: {peaks[min(20, len(peaks)) - 1]:.0f} MB after"
            f" {min(20, len(peaks))} days,"
            f" {year.table['peak_rss_mb'].max():.0f} MB at most at the end of a part (its audit and reports)"
        )
        print("[4] where one run's time goes (in this process)")
        print("\n".join(where))
        if whole is not None:
            peaks = peaks_by_day(whole)
            print(f"[5] the year as one run: {whole.line()}")
            print(
                f"    what the split changed: one run {whole.table['trades'].sum():.0f} trades,"
                f" P&L {whole.table['pnl'].sum():+,.2f}; {len(year.table)} parts {year.table['trades'].sum():.0f}"
                f" trades, P&L {year.table['pnl'].sum():+,.2f}"
            )
            print(
                f"    peak resident memory of its process: {peaks[min(20, days) - 1]:.0f} MB after"
                f" {min(20, days)} days,"
                f" {peaks[-1]:.0f} MB after {days} days, {whole.table.loc[0, 'peak_rss_mb']:.0f} MB with the audit"
                " and reports"
            )
    return 0 if year.wall_s <= TARGET_YEAR_S else 1


if __name__ == "__main__":
    raise SystemExit(main())
