"""``odte catalog sample``: the embedded default market, deterministic from a seed.

Same seed, same arguments -> byte-identical parquet files: every random draw comes from a numpy
``Generator`` seeded with (seed, session date[, stream]), sessions come from the exchange calendar (never
the wall clock), and files are written from sorted columns. A session's market depends only on the seed,
its date, the previous close and the vol level carried from the sessions before it (``VolMemory``), so
``--days 5`` is a prefix of ``--days 20``.

The default window (20 sessions from 2024-07-22) covers 2024-08-05, replayed as the crash-and-IV-crush
regime (``market_model.STRESS_DAYS``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path

import numpy as np

from odte_nautilus.data import catalog_io, sidecar
from odte_nautilus.data.bundle import Origin, SessionData
from odte_nautilus.data.catalog_check import record_passed
from odte_nautilus.data.chain import synthetic_session
from odte_nautilus.data.checks import check_session
from odte_nautilus.data.market_model import DayPath, MarketParams, VolMemory, draw_regime, next_open, simulate_day
from odte_nautilus.data.underlyings import underlying_spec
from odte_nautilus.risk.session import TradingCalendar

FREQUENCIES = {"1m": 60, "1s": 1}
GENERATOR_VERSION = 2  # bump when the model changes what a seed produces


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
    spec = underlying_spec(config.underlying)
    origin = Origin(f"<synthetic seed={config.seed}>", unit="quote")
    for path in market_days(config):
        yield synthetic_session(path, spec, config.strikes_each_side, FREQUENCIES[config.freq], config.seed, origin)


@dataclass(frozen=True, slots=True)
class SampleReport:
    sessions: int
    written: int  # sessions written by this run (the others were already there)
    quotes: int


def build_sample(
    path: str | Path,
    config: SampleConfig = SampleConfig(),
    on_quotes: Callable[[int], None] | None = None,
) -> SampleReport:
    """Write the sample catalog at ``path``; re-running with the same config only fills missing sessions.

    The manifest lists the sessions written completely (a session interrupted half-way is rewritten; the
    writer skips files that are already there, and they are identical).
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
    sessions = written = quotes = 0
    for data in sample_sessions(config):
        sessions += 1
        day = data.session.trading_date.isoformat()
        if day in done:
            continue
        check_session(data)
        quotes += catalog_io.write_session(path, data, on_quotes)
        record_passed(path, data)
        done.add(day)
        sidecar.write_manifest(path, {**wanted, "sessions": sorted(done)})
        written += 1
    return SampleReport(sessions, written, quotes)
