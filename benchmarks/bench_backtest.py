"""Backtest throughput: both strategies with every check on, against a do-nothing strategy (issue 4).

Run: ``.venv/bin/python benchmarks/bench_backtest.py [--catalog DIR] [--days 5] [--runs 3] [--profile]``

Targets: the strategies run at >= 0.8 of the do-nothing rate (the engine is the limit, not our code),
and one trading day of 1-minute quotes over +-40 strikes takes <= 2 s.

Both sides go through the same ``odte_nautilus.backtest.run_backtest`` as ``odte backtest``: the same
engine, venue, fee model, catalog loading (every option definition, and the quotes of the strikes within
the strategies' reach: the do-nothing strategy reaches as far), risk book and engine gate; only the
``strategies=`` builder differs. The do-nothing strategy subscribes to the same index bars
and does nothing with them, so the ratio isolates what our strategies cost (signals, kernel checks,
package quotes, stops, orders and fills, the journal).

Three clocks, all inside one ``run_backtest`` call:
- replay: ``BacktestEngine.run``, the engine replaying a loaded session (the ratio's clock; wall and CPU);
- load + replay: the session loop (``backtest._run_day``: read the session from the catalog, replay it,
  clear it), identical catalog work on both sides;
- whole run: set-up, the loop, the end of the run, the run folder, the audit and ``report.html``.
The first two are read by swapping those two names in ``odte_nautilus.backtest`` for clocked versions
while the call runs. Runs alternate (strategies, idle, strategies, ...) after one untimed warm-up, and
each figure is the median of ``--runs``. On a shared machine trust the CPU column over the wall ones.

``--profile`` adds a cProfile of the replay of one strategies run (top functions by own and cumulative
time, ``file:function``). cProfile sees Python frames only: Nautilus's Cython and Rust work shows up as
the own time of ``BacktestEngine.run``; ``py-spy record --native`` (not in the lock) sees inside it.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import statistics
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from nautilus_trader.config import StrategyConfig, StrategyFactory
from nautilus_trader.model.data import BarType
from nautilus_trader.trading.strategy import Strategy

import odte_nautilus.backtest as backtest
from odte_nautilus.backtest import BacktestConfig, load_backtest_config, run_backtest
from odte_nautilus.data.sample import SampleConfig, build_sample
from odte_nautilus.data.symbology import underlying_bar_type

TARGET_RATIO = 0.8
TARGET_DAY_S = 2.0
STRIKES = 40

# Nautilus 1.231's BacktestEngine.run calls pandas' deprecated Timestamp.utcnow once per run.
warnings.filterwarnings("ignore", message="Timestamp.utcnow is deprecated")


class IdleConfig(StrategyConfig, frozen=True):
    underlying_id: str = "^SPX.CBOE"
    strike_reach_points: float | None = None  # the strategies' reach: both sides replay the same quotes


class Idle(Strategy):
    """Subscribes to the index bars the strategies subscribe to, and does nothing: the engine's own cost.

    It reaches as far as the strategies it stands in for (``backtest.strike_reach``), so both sides of a
    ratio replay the same quotes (data/feed.py reads only the strikes within reach).
    """

    def strike_reach_points(self) -> float | None:
        return self.config.strike_reach_points

    def on_start(self) -> None:
        self.subscribe_bars(BarType.from_str(underlying_bar_type(self.config.underlying_id)))


class Stopwatch:
    """Wall and CPU seconds accumulated over the calls it wraps."""

    def __init__(self) -> None:
        self.wall = self.cpu = 0.0

    def wrap(self, call: Callable) -> Callable:
        def clocked(*args, **kwargs):
            wall, cpu = time.perf_counter(), time.process_time()
            try:
                return call(*args, **kwargs)
            finally:
                self.wall += time.perf_counter() - wall
                self.cpu += time.process_time() - cpu

        return clocked


@dataclass(frozen=True)
class Timing:
    replay_s: float  # wall time in BacktestEngine.run
    replay_cpu_s: float  # CPU time of the same
    loop_s: float  # wall time in the session loop: load, replay, clear each session
    wall_s: float  # the whole run_backtest call
    quotes: int
    days: int

    def rate(self, seconds: float) -> float:
        return self.quotes / seconds


@contextmanager
def wrapped(wrap_replay: Callable[[Callable], Callable], wrap_day: Callable[[Callable], Callable]) -> Iterator[None]:
    """``run_backtest`` with ``BacktestEngine.run`` and ``_run_day`` wrapped, the backtest itself unchanged."""
    engine_class, run_day = backtest.BacktestEngine, backtest._run_day

    class WrappedEngine(backtest.BacktestEngine):  # engine_class, named so that mypy sees a class
        run = wrap_replay(engine_class.run)

    backtest.BacktestEngine, backtest._run_day = WrappedEngine, wrap_day(run_day)
    try:
        yield
    finally:
        backtest.BacktestEngine, backtest._run_day = engine_class, run_day


def strategies_of(config: BacktestConfig) -> Callable[[], list]:
    return lambda: [StrategyFactory.create(c) for c in config.importable()]


def idle_like(config: BacktestConfig) -> Callable[[], list]:
    """The do-nothing strategy, reaching as far as ``config``'s strategies."""
    reach = backtest.strike_reach(strategies_of(config)())
    return lambda: [Idle(IdleConfig(order_id_tag="900", strike_reach_points=reach))]


def timed_run(config: BacktestConfig, make: Callable[[], list], run_dir: Path) -> Timing:
    replay, loop = Stopwatch(), Stopwatch()
    with wrapped(replay.wrap, loop.wrap):
        start = time.perf_counter()
        result = run_backtest(config, run_dir, strategies=make)
        wall = time.perf_counter() - start
    return Timing(replay.wall, replay.cpu, loop.wall, wall, result.quotes, result.days)


def medians(timings: list[Timing]) -> Timing:
    def median(field: str) -> float:
        return statistics.median(getattr(t, field) for t in timings)

    first = timings[0]
    return Timing(
        median("replay_s"), median("replay_cpu_s"), median("loop_s"), median("wall_s"), first.quotes, first.days
    )


def sample_catalog(root: Path, days: int) -> Path:
    path = root / f"sample-{days}d-{STRIKES}k"
    print(f"building a {days}-session, +-{STRIKES}-strike sample catalog in {path} ...", flush=True)
    build_sample(path, SampleConfig(days=days, strikes_each_side=STRIKES))
    return path


def compare(config: BacktestConfig, runs: int, scratch: Path) -> tuple[Timing, Timing]:
    """Strategies and idle, alternating, ``runs`` times each after an untimed warm-up; their medians."""
    sides = {"strategies": strategies_of(config), "idle": idle_like(config)}
    timed_run(config, sides["idle"], scratch / "warm-up")  # imports, the exchange calendar, first catalog reads
    results: dict[str, list[Timing]] = {name: [] for name in sides}
    for i in range(runs):
        for name, make in sides.items():
            t = timed_run(config, make, scratch / f"{name}-{i}")
            results[name].append(t)
            print(
                f"  run {i + 1} {name:<10} replay {t.replay_s:6.2f} s (cpu {t.replay_cpu_s:6.2f})  "
                f"load+replay {t.loop_s:6.2f} s  whole run {t.wall_s:6.2f} s",
                flush=True,
            )
    return medians(results["strategies"]), medians(results["idle"])


def report(busy: Timing, quiet: Timing, runs: int) -> float:
    """Print the throughput table; returns the replay ratio (wall clock)."""
    print(f"[1] {busy.days} sessions, {busy.quotes:,} option quotes; quotes per second (median of {runs} runs) of")
    print(f"    {'':<28}{'replay wall':>13}{'replay cpu':>13}{'load+replay':>13}{'whole run':>11}")
    for name, t in (("strategies, every check on", busy), ("do-nothing strategy", quiet)):
        print(
            f"    {name:<28}{t.rate(t.replay_s):>13,.0f}{t.rate(t.replay_cpu_s):>13,.0f}"
            f"{t.rate(t.loop_s):>13,.0f}{t.wall_s:>10.2f}s"
        )
    clocks = ("replay_s", "replay_cpu_s", "loop_s")
    ratios = [busy.rate(getattr(busy, c)) / quiet.rate(getattr(quiet, c)) for c in clocks]
    print(f"    {'ratio strategies / idle':<28}" + "".join(f"{r:>13.2f}" for r in ratios))
    verdict = "meets" if ratios[0] >= TARGET_RATIO else "BELOW"
    print(f"    ratio on the replay {ratios[0]:.2f}: {verdict} the target >= {TARGET_RATIO}")
    return ratios[0]


def profile(config: BacktestConfig, run_dir: Path, top: int = 30) -> str:
    """cProfile of the replay (``BacktestEngine.run``) of one strategies run."""
    profiler = cProfile.Profile()

    def profiled(run: Callable) -> Callable:
        def call(*args, **kwargs):
            profiler.enable()
            try:
                return run(*args, **kwargs)
            finally:
                profiler.disable()

        return call

    with wrapped(profiled, lambda run_day: run_day):
        run_backtest(config, run_dir, strategies=strategies_of(config))
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    for key in ("tottime", "cumulative"):
        out.write(f"\n--- top {top} by {key} ---\n")
        stats.sort_stats(key).print_stats(top)
    return out.getvalue()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--catalog", type=Path, help="catalog to replay (default: a sample built in a temp folder)")
    parser.add_argument("--days", type=int, default=5, help="sessions of the default sample catalog")
    parser.add_argument("--runs", type=int, default=3, help="timed runs of each side (the median is reported)")
    parser.add_argument("--profile", action="store_true", help="cProfile the replay of one strategies run")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="odte-bench-") as tmp:
        scratch = Path(tmp)
        catalog = args.catalog or sample_catalog(scratch, args.days)
        config = load_backtest_config(backtest.DEFAULT_CONFIG, catalog=catalog)
        names = ", ".join(s["strategy_path"].rsplit(":", 1)[-1] for s in config.strategies)
        print(f"\n[1] throughput over {catalog}: {names} vs do-nothing, profile {config.risk_profile}")
        busy, quiet = compare(config, args.runs, scratch / "throughput")

        day_config = load_backtest_config(backtest.DEFAULT_CONFIG, catalog=sample_catalog(scratch, 1))
        print(f"\n[2] one trading day of 1-minute quotes over +-{STRIKES} strikes: {names} vs do-nothing")
        day, day_idle = compare(day_config, args.runs, scratch / "one-day")

        print("\n=== results ===")
        ratio = report(busy, quiet, args.runs)
        print(
            f"[2] one day, {day.quotes:,} quotes: whole run {day.wall_s:.2f} s with the strategies "
            f"(load+replay {day.loop_s:.2f} s, replay {day.replay_s:.2f} s); do-nothing {day_idle.wall_s:.2f} s "
            f"(load+replay {day_idle.loop_s:.2f} s, replay {day_idle.replay_s:.2f} s)"
        )
        day_verdict = "meets" if day.wall_s <= TARGET_DAY_S else "OVER"
        print(f"    one-day wall time {day.wall_s:.2f} s: {day_verdict} the target <= {TARGET_DAY_S:g} s")

        if args.profile:
            print(f"\n[3] cProfile of the replay of one strategies run over {catalog}")
            print(profile(config, scratch / "profiled"))
    return 0 if ratio >= TARGET_RATIO and day.wall_s <= TARGET_DAY_S else 1


if __name__ == "__main__":
    raise SystemExit(main())
