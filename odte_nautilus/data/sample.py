"""``odte catalog sample``: the embedded default market, deterministic from a seed.

Same seed, same arguments -> byte-identical parquet files: every random draw comes from a numpy
``Generator`` seeded with (seed, session date[, stream]), sessions come from the exchange calendar (never
the wall clock), and files are written from sorted columns. A session's market depends only on the seed,
its date, the previous close and the vol level carried from the sessions before it (``VolMemory``), so
``--days 5`` is a prefix of ``--days 20``.

The default window (20 sessions from 2024-07-22) covers 2024-08-05, replayed as the crash-and-IV-crush
regime (``market_model.STRESS_DAYS``).

A year is built on every core: the price path is a chain (each day opens at the previous close, so the
paths are drawn in order, ~40 ms a day), but a day's chain of quotes, its checks and its files depend on
its path alone, and take ~0.4 s; worker processes build and write whole days while the paths are drawn.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import date
from itertools import chain, islice, repeat
from multiprocessing import get_context
from pathlib import Path

import numpy as np

from odte_nautilus.data import catalog_io, sidecar
from odte_nautilus.data.bundle import Origin, SessionData
from odte_nautilus.data.catalog_check import passed_entry, record_entries
from odte_nautilus.data.chain import synthetic_session
from odte_nautilus.data.checks import check_session
from odte_nautilus.data.market_model import DayPath, MarketParams, VolMemory, draw_regime, next_open, simulate_day
from odte_nautilus.data.underlyings import underlying_spec
from odte_nautilus.risk.session import TradingCalendar

FREQUENCIES = {"1m": 60, "1s": 1}
GENERATOR_VERSION = 2  # bump when the model changes what a seed produces
PARALLEL_FROM = 8  # sessions to write from which worker processes pay for their start (~3 s each)


class SampleConflictError(ValueError):
    """The target catalog already holds data built differently (another seed, underlying or source)."""


@dataclass(frozen=True, slots=True)
class SampleConfig:
    days: int = 20
    seed: int = 10
    underlying: str = "SPX"
    freq: str = "1m"
    start: date = date(2024, 7, 22)
    strikes_each_side: int = 40
    params: MarketParams = field(default_factory=MarketParams)

    def __post_init__(self) -> None:
        if self.freq not in FREQUENCIES:
            raise ValueError(f"--freq must be one of {', '.join(FREQUENCIES)}, got {self.freq!r}")
        if self.days < 1 or self.strikes_each_side < 1:
            raise ValueError("--days and the strikes either side must be at least 1")
        underlying_spec(self.underlying)

    def manifest(self) -> dict:
        """What the catalog records about how it was built (no dates of building: determinism)."""
        identity = {k: v for k, v in asdict(self).items() if k not in ("days", "params")}
        return {
            "source": "synthetic",
            "generator": GENERATOR_VERSION,
            **identity,
            "start": self.start.isoformat(),
            "params": asdict(self.params),
        }


def market_days(config: SampleConfig) -> Iterator[DayPath]:
    """The sample's sessions in order; each day opens where the previous one closed (plus a gap).

    A day's random draws depend only on the seed and its date; its price on the previous close, its vol
    level on the days before it (``VolMemory``).
    """
    spec = underlying_spec(config.underlying)
    price = spec.sample_start_price
    memory = VolMemory(config.params)
    for k, session in enumerate(TradingCalendar().sessions_from(config.start, config.days)):
        rng = np.random.default_rng([config.seed, session.trading_date.toordinal()])
        regime = draw_regime(session.trading_date, rng)
        gapped = next_open(price, regime, rng)  # drawn on the first day too: a day's draws never depend on k
        level = memory.today(regime, rng)
        path = simulate_day(session, gapped if k else price, regime, rng, config.params, level)
        yield path
        price = float(path.spot[-1])


def sample_sessions(config: SampleConfig) -> Iterator[SessionData]:
    """The sample's sessions as checked-ready in-memory data (no disk)."""
    for path in market_days(config):
        yield session_of(path, config)


def session_of(path: DayPath, config: SampleConfig) -> SessionData:
    """A day's chain of quotes from its price path."""
    spec = underlying_spec(config.underlying)
    origin = Origin(f"<synthetic seed={config.seed}>", unit="quote")
    return synthetic_session(path, spec, config.strikes_each_side, FREQUENCIES[config.freq], config.seed, origin)


@dataclass(frozen=True, slots=True)
class SampleReport:
    sessions: int
    written: int  # sessions written by this run (the others were already there)
    quotes: int


def build_sample(
    path: str | Path,
    config: SampleConfig = SampleConfig(),
    on_quotes: Callable[[int], None] | None = None,
    workers: int | None = None,
) -> SampleReport:
    """Write the sample catalog at ``path``; re-running with the same config only fills missing sessions.

    The manifest lists the sessions written completely (a session interrupted half-way is rewritten; the
    writer skips files that are already there, and they are identical). ``workers`` processes write the
    days (default: every core once there are ``PARALLEL_FROM`` days to write, else this process);
    ``on_quotes(n)`` is called as each day lands. The bytes do not depend on the workers.
    """
    wanted = config.manifest()
    manifest = sidecar.read_manifest(path)
    done = set(manifest.pop("sessions", []))
    if manifest and manifest != wanted:
        raise SampleConflictError(
            f"{path} already holds a catalog built as {manifest.get('source')} "
            f"(seed {manifest.get('seed')}, {manifest.get('underlying')}, {manifest.get('freq')}): "
            "choose another --path or delete that folder"
        )
    if not manifest and catalog_io.has_market_data(path):
        raise SampleConflictError(f"{path} already holds market data that is not this sample: choose another --path")
    sessions = [s.trading_date.isoformat() for s in TradingCalendar().sessions_from(config.start, config.days)]
    todo = len(set(sessions) - done)
    if workers is None:
        workers = (os.cpu_count() or 1) if todo >= PARALLEL_FROM else 1
    paths = (p for p in market_days(config) if p.session.trading_date.isoformat() not in done)  # drawn as sent
    # The first day is written here, before any worker starts: it writes the catalog's one underlying
    # definition, the first day's as in order (workers racing for it wrote whichever day came first).
    first = [_write_day(path, day, config) for day in islice(paths, 1)]
    quotes = 0
    with _executor(min(workers, todo - 1)) as pool:
        for day, entry, count in chain(first, pool.map(_write_day, repeat(path), paths, repeat(config))):
            record_entries(path, [entry])
            done.add(day)
            sidecar.write_manifest(path, {**wanted, "sessions": sorted(done)})
            quotes += count
            if on_quotes is not None:
                on_quotes(count)
    return SampleReport(len(sessions), todo, quotes)


def _write_day(root: str | Path, path: DayPath, config: SampleConfig) -> tuple[str, tuple[str, dict], int]:
    """Build, check and write one day (in a worker process); its ``checked.json`` entry for the parent."""
    data = session_of(path, config)
    check_session(data)
    quotes = catalog_io.write_session(root, data)
    return data.session.trading_date.isoformat(), passed_entry(root, data), quotes


class _InProcess:
    """The executor's ``map`` in this process: a few days are not worth a worker's start."""

    def __enter__(self) -> _InProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        pass

    def map(self, fn: Callable, *iterables: Iterable) -> Iterator:
        return map(fn, *iterables)


def _executor(workers: int) -> ProcessPoolExecutor | _InProcess:
    """Workers are spawned, not forked: the parent has loaded Nautilus, whose Rust runtime holds threads."""
    return ProcessPoolExecutor(workers, mp_context=get_context("spawn")) if workers > 1 else _InProcess()
