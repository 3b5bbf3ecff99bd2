"""Implied vol and greeks of a session's options every 5 minutes, with fractional-day time to expiry.

OPRA has no greeks and Nautilus's greeks calculator (``model.greeks``) rounds time to expiry up to a whole day (a 2-hour
option priced as a 1-day one: IV 7.5 % instead of 26.6 %), so the catalog carries its own, computed with
Nautilus's Rust ``imply_vol``/``black_scholes_greeks`` and T = time to the close in calendar years
(design §11). The IV of a strike comes from its out-of-the-money side (an in-the-money 0DTE
option's time value is too thin to invert: the Rust solver returns ~1e-8 silently) and prices both the
call and the put. ``sidecar`` stores the table as ``<catalog>/odte/greeks/<date>.parquet``;
read it with ``sidecar.load_greeks``.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
from nautilus_trader.core.nautilus_pyo3 import black_scholes_greeks, imply_vol

from odte_nautilus.data.bundle import QuoteSeries, SessionData
from odte_nautilus.data.symbology import parse_option_id
from odte_nautilus.risk.model import OptionRight
from odte_nautilus.risk.time_units import NS_PER_SECOND, SECONDS_PER_YEAR

EVERY_MINUTES = 5  # enough for a GEX profile; the strategies price their own stops from live quotes
_MIN_IV = 1e-4  # below this the solver failed (no time value to invert)
COLUMNS = ("instrument_id", "ts", "underlying_price", "mid", "iv", "delta", "gamma", "vega", "theta")
SCHEMA = pa.schema([("instrument_id", pa.string()), ("ts", pa.uint64())] + [(c, pa.float64()) for c in COLUMNS[2:]])


def _mids_at(series: QuoteSeries, ts: np.ndarray) -> np.ndarray:
    """The latest mid at or before each time (NaN before the first quote)."""
    i = np.searchsorted(series.ts, ts, side="right") - 1
    mid = (series.bid + series.ask) / 2.0
    return np.where(i >= 0, mid[np.maximum(i, 0)], np.nan)


def greeks_table(data: SessionData) -> pa.Table:
    """One row per option every 5 minutes (on the bar closes): underlying price, mid, iv and greeks."""
    spec, bars = data.spec, data.checked_bars
    ts = bars.ts[EVERY_MINUTES - 1 :: EVERY_MINUTES]
    spot = bars.close[EVERY_MINUTES - 1 :: EVERY_MINUTES]
    years = np.maximum((data.session.close_ns - ts.astype(np.int64)) / NS_PER_SECOND, 1.0) / SECONDS_PER_YEAR
    r, b = spec.rate, spec.rate - spec.dividend_yield

    pairs: dict[float, dict[OptionRight, str]] = {}
    for iid in sorted(data.quotes):
        key = parse_option_id(iid)
        pairs.setdefault(key.strike, {})[key.right] = iid

    columns: dict[str, list] = {k: [] for k in COLUMNS}
    for strike, rights in sorted(pairs.items()):
        mids = {right: _mids_at(data.quotes[iid], ts) for right, iid in rights.items()}
        vols = np.full(len(ts), np.nan)
        for i, (s, t) in enumerate(zip(spot.tolist(), years.tolist(), strict=True)):
            otm = OptionRight.CALL if strike >= s else OptionRight.PUT
            side = otm if otm in mids else next(iter(mids))
            mid = mids[side][i]
            if np.isfinite(mid) and mid > 0:
                vol = imply_vol(s, r, b, side is OptionRight.CALL, strike, t, float(mid))
                vols[i] = vol if vol > _MIN_IV else np.nan
        for right, iid in sorted(rights.items()):
            for i, (s, t, v) in enumerate(zip(spot.tolist(), years.tolist(), vols.tolist(), strict=True)):
                g = black_scholes_greeks(s, r, b, v, right is OptionRight.CALL, strike, t) if np.isfinite(v) else None
                columns["instrument_id"].append(iid)
                columns["ts"].append(int(ts[i]))
                columns["underlying_price"].append(s)
                columns["mid"].append(float(mids[right][i]))
                columns["iv"].append(v)
                for name in ("delta", "gamma", "vega", "theta"):
                    columns[name].append(getattr(g, name) if g is not None else np.nan)
    return pa.table(columns, schema=SCHEMA)
