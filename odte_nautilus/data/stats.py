"""``odte catalog stats``: what a catalog holds, and its sanity figures beside the published bands."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from odte_nautilus.data import catalog_io
from odte_nautilus.data.bundle import Origin, SessionData
from odte_nautilus.data.calibration import BANDS, ENTRY_TIME, DayFigure, atm_strike, day_figure, figures
from odte_nautilus.data.catalog_io import CatalogSession
from odte_nautilus.data.symbology import parse_option_id
from odte_nautilus.risk.session import ny_ns


@dataclass(frozen=True, slots=True)
class CatalogStats:
    sessions: int
    underlyings: tuple[str, ...]
    instruments: int
    quotes: int
    days: tuple[DayFigure, ...]
    figures: dict[str, float]


def _atm_session(root: Path, part: CatalogSession) -> SessionData:
    """Only what the figure needs: the bars and the ATM call and put at 10:00."""
    spec, session = part.spec, part.session
    bars = catalog_io.read_bars(root, spec.bar_type, session.open_ns, session.close_ns)
    spot = bars.close_at(ny_ns(session.trading_date, *ENTRY_TIME))
    by_strike: dict[float, list[str]] = {}
    for iid in part.instrument_ids:
        by_strike.setdefault(parse_option_id(iid).strike, []).append(iid)
    strike = atm_strike([k for k, ids in by_strike.items() if len(ids) == 2], spot)
    ids = by_strike[strike]
    return SessionData(session, spec, None, bars, [], catalog_io.read_many_quotes(root, ids), Origin(str(root)))


def catalog_stats(path: str | Path) -> CatalogStats:
    root = Path(path)
    parts = catalog_io.catalog_sessions(root)
    days = tuple(day_figure(_atm_session(root, part)) for part in parts)
    return CatalogStats(
        sessions=len(parts),
        underlyings=tuple(sorted({part.spec.name for part in parts})),
        instruments=sum(len(part.instrument_ids) for part in parts),
        quotes=catalog_io.quote_count(root),
        days=days,
        figures=figures(list(days)) if days else {},
    )


def stats_rows(stats: CatalogStats) -> list[tuple[str, str, str, str, str]]:
    """(figure, this catalog, published, band, verdict) rows for the CLI table."""
    rows = []
    for band in BANDS:
        value = stats.figures.get(band.key)
        verdict = "-" if value is None else ("ok" if band.holds(value) else "OUTSIDE")
        shown = "-" if value is None else f"{value:.3f}"
        rows.append((band.label, shown, f"{band.published:.3f}", f"{band.low:.2f}-{band.high:.2f}", verdict))
    for key, label, published in (
        ("long_pnl_mean_pct", "long straddle P&L, mean (% of spot)", -0.0011),
        ("long_pnl_median_pct", "long straddle P&L, median (% of spot)", -0.08),
    ):
        value = stats.figures.get(key)
        rows.append((label, "-" if value is None else f"{value:.3f}", f"{published:.3f}", "", ""))
    return rows
