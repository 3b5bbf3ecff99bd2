"""Builders for a backtest run folder (``fills.csv``, ``positions.csv``, ``decisions.jsonl``) in tests.

The reports and the audit read only these files, so their tests build small hand-made ones: one line
per leg fill, per package or per kernel decision, in the backtest's own column layout.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pandas as pd

from odte_nautilus.reports.frames import FILLS_COLUMNS, POSITIONS_COLUMNS
from tests.kit import DAY, ny_ns

THETA = "ThetaHarvester-001"
GAMMA = "GammaScalper-001"


def iso(hh: int, mm: int, ss: int = 0, day: date = DAY) -> str:
    """ISO-8601 UTC string of a New York wall-clock time (the run folder's timestamp format)."""
    return pd.Timestamp(ny_ns(hh, mm, ss, day=day), tz="UTC").isoformat()


def leg_fill(
    ts: str,
    package: str,
    leg: str,
    side: str,
    *,
    qty: int = 1,
    price: float = 1.0,
    role: str = "entry",
    strategy: str = THETA,
    exit_kind: str = "",
    underlying: str = "SPX",
    day: date = DAY,
) -> dict:
    """One leg fill; ``leg`` is right + strike, e.g. ``"C5100"``."""
    right, strike = leg[0], float(leg[1:])
    root = "SPXW" if underlying == "SPX" else underlying
    return {
        "ts_event": ts,
        "strategy_id": strategy,
        "package_id": package,
        "instrument_id": f"{root}{day:%y%m%d}{right}{int(strike * 1000):08d}.CBOE",
        "side": side,
        "quantity": qty,
        "price": price,
        "role": role,
        "exit_kind": exit_kind,
        "underlying": underlying,
        "right": right,
        "strike": strike,
        "expiry": day.isoformat(),
    }


def fly_entry_fills(ts: str, package: str, center: int = 5100, wing: int = 20, **kw) -> list[dict]:
    """An iron butterfly's entry as the engine emits it: the short body first, then the wings."""
    return [
        leg_fill(ts, package, f"C{center}", "SELL", **kw),
        leg_fill(ts, package, f"P{center}", "SELL", **kw),
        leg_fill(ts, package, f"C{center + wing}", "BUY", **kw),
        leg_fill(ts, package, f"P{center - wing}", "BUY", **kw),
    ]


def fly_exit_fills(ts: str, package: str, center: int = 5100, wing: int = 20, **kw) -> list[dict]:
    kw.setdefault("exit_kind", "take_profit_full")
    return [
        leg_fill(ts, package, f"C{center}", "BUY", role="exit", **kw),
        leg_fill(ts, package, f"P{center}", "BUY", role="exit", **kw),
        leg_fill(ts, package, f"C{center + wing}", "SELL", role="exit", **kw),
        leg_fill(ts, package, f"P{center - wing}", "SELL", role="exit", **kw),
    ]


def strangle_fills(ts: str, package: str, call: int = 5120, put: int = 5080, *, role: str = "entry", **kw) -> list:
    """The Gamma Scalper's long strangle: bought on entry, sold on exit."""
    kw.setdefault("strategy", GAMMA)
    side = "BUY" if role == "entry" else "SELL"
    if role == "exit":
        kw.setdefault("exit_kind", "take_profit_full")
    return [leg_fill(ts, package, leg, side, role=role, **kw) for leg in (f"C{call}", f"P{put}")]


def fills_frame(*groups: list[dict]) -> pd.DataFrame:
    rows = [row for group in groups for row in group]
    return pd.DataFrame(rows, columns=list(FILLS_COLUMNS))


def position(
    package: str,
    pnl: float | None,
    *,
    strategy: str = THETA,
    opened: str | None = None,
    closed: str | None = None,
    symbol: str = "SPX",
    day: date = DAY,
) -> dict:
    """One package row of ``positions.csv``; ``pnl=None`` and ``closed=None`` leave it open."""
    return {
        "package_id": package,
        "strategy_id": strategy,
        "symbol": symbol,
        "structure": "iron_butterfly" if strategy == THETA else "long_strangle",
        "opened_at": opened or iso(10, 0, day=day),
        "closed_at": closed or "",
        "quantity": 1,
        "entry_price": -12.0 if strategy == THETA else 3.0,
        "exit_price": "",
        "realized_pnl": "" if pnl is None else pnl,
        "exit_kinds": "take_profit_full",
        "trading_date": day.isoformat(),
    }


def positions_frame(*rows: dict) -> pd.DataFrame:
    return pd.DataFrame(list(rows), columns=list(POSITIONS_COLUMNS))


def decision(strategy: str, allowed: bool, code: str, ts: str | None = None) -> dict:
    """One ``decisions.jsonl`` record as the kernel's journal writes it."""
    return {
        "ts": ts or iso(10, 0),
        "ts_ns": 0,
        "kind": "decision",
        "strategy": strategy,
        "intent": {"strategy_id": strategy},
        "decision": {"allowed": allowed, "code": code, "reason": f"{code} in a test", "size": 1 if allowed else 0},
    }


def write_run(run_dir: Path, fills: pd.DataFrame, positions: pd.DataFrame, decisions: list[dict]) -> Path:
    run_dir.mkdir(parents=True, exist_ok=True)
    fills.to_csv(run_dir / "fills.csv", index=False)
    positions.to_csv(run_dir / "positions.csv", index=False)
    (run_dir / "decisions.jsonl").write_text("".join(json.dumps(d) + "\n" for d in decisions))
    return run_dir
