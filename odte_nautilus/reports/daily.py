"""The daily report of one trading day of a run folder: ``report-<D>.json`` and ``report-<D>.html``.

Seed 003, "Daily Reports": the day's P&L, trades and positions; max drawdown, VaR and exposure; win rate,
average P&L, best and worst trades; errors, rejections and mismatches; exits by kind. A backtest run folder
and a paper one have the same files, so one day of either gets the same report. Everything comes from the
run folder through the project's readers (``frames.py``) and figures (``summary.py``), so the day's rows
agree with ``summary.json`` to the cent; the issues come from the journal (``decisions.jsonl``), where the
risk book, the broker watch and the alerts write them (``live/alerts.py``).

VaR is computed twice, both at 95 %, both on realized P&L after fees, both through quantstats:

- **per trade, over the day's closed packages**: what one trade loses at worst 1 time in 20. One day has
  2-5 trades: with fewer than 20 the 5 % tail lies below the smallest observation, the historical figure
  is the worst trade interpolated, and the parametric one assumes normal P&L, which a 0DTE package's
  (bounded loss, skewed) is not. The report prints the sample size beside every figure;
- **per day, over the run's days up to and including this one**: the daily VaR the seed means, and with
  the same limits until the run has 20 days or more. A single-day paper run has no daily VaR.

Intraday mark-to-market equity is not in a run folder (the recorder keeps fills and closed packages),
so the drawdown is that of the realized equity, in close-time order, as in ``summary.json``.
"""

from __future__ import annotations

import json
import logging
import math
from collections import Counter
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd

from odte_nautilus.reports.daily_html import render_page
from odte_nautilus.reports.frames import (
    DECISIONS_FILE,
    FILLS_FILE,
    POSITIONS_FILE,
    SUMMARY_FILE,
    RunDataError,
    prepare_fills,
    read_decisions,
    read_fills,
    read_positions,
)
from odte_nautilus.reports.summary import TOTAL, build_summary, closed_packages
from odte_nautilus.risk.journal import RECOVERED
from odte_nautilus.risk.session import NEW_YORK, trading_date

log = logging.getLogger(__name__)

CONFIDENCE = 0.95
FEW = 20  # below this many observations the 5 % tail is beyond the sample: said in the report
STOPS_AND_CONTROLS = ("breaker", "lock", "kill_switch", "reset", "flatten", "strategy_switch")  # journal kinds
JSON_NAME = "report-{day}.json"
HTML_NAME = "report-{day}.html"


class DailyReportError(ValueError):
    """A daily report that cannot be made: the message names the run folder or the day and what to do."""


@dataclass(frozen=True)
class DailyReportPaths:
    json: Path
    html: Path


# -- the day's data ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Day:
    day: date
    positions: pd.DataFrame  # the day's packages (positions.csv rows of this trading date)
    all_positions: pd.DataFrame  # every package of the run (for the daily VaR sample)
    fills: pd.DataFrame  # the day's leg fills, prepared (ts_ns, signed_qty)
    records: list[dict]  # the day's journal records
    audit: dict | None  # summary.json's audit, if the run folder has one


def _load(run_dir: Path, day: date) -> _Day:
    if not run_dir.is_dir():
        raise DailyReportError(f"{run_dir}: no such run folder; give --run the folder odte backtest or odte live wrote")
    positions = read_positions(run_dir / POSITIONS_FILE)
    fills = prepare_fills(read_fills(run_dir / FILLS_FILE), FILLS_FILE)
    records = read_decisions(run_dir / DECISIONS_FILE)
    fills = fills[[trading_date(int(ts)) == day for ts in fills["ts_ns"]]]
    records = [r for r in records if _record_day(r) == day]
    day_positions = positions[positions["trading_date"] == day.isoformat()]
    if day_positions.empty and fills.empty and not records:
        days = sorted(d for d in set(positions["trading_date"]) if d)
        known = f"its days: {days[0]} .. {days[-1]} ({len(days)} with packages)" if days else "it has no packages"
        raise DailyReportError(f"{run_dir}: nothing happened on {day} in this run folder ({known})")
    summary_path = run_dir / SUMMARY_FILE
    audit = json.loads(summary_path.read_text()).get("audit") if summary_path.is_file() else None
    return _Day(day, day_positions.reset_index(drop=True), positions, fills, records, audit)


def _record_day(record: dict) -> date | None:
    ts = record.get("ts_ns")
    return trading_date(int(ts)) if isinstance(ts, int) else None


# -- the figures ---------------------------------------------------------------------------------------


def _money(value: float | None) -> float | None:
    if value is None or not math.isfinite(value):
        return None
    return round(float(value), 2) + 0.0


def _price(value: object) -> float | None:
    number = pd.to_numeric(str(value).strip() or "nan", errors="coerce")
    return None if pd.isna(number) else float(number)


def _ny(ts_ns: int | float) -> str:
    return pd.Timestamp(int(ts_ns), tz="UTC").tz_convert(NEW_YORK).strftime("%H:%M:%S")


def _trades(closed: pd.DataFrame) -> list[dict[str, Any]]:
    return [
        {
            "package_id": row.package_id,
            "strategy": row.strategy_id,
            "structure": row.structure,
            "quantity": int(row.quantity),
            "opened": _ny(pd.Timestamp(row.opened_at).value),
            "closed": _ny(row.closed_ns),
            "entry_price": _price(row.entry_price),
            "exit_price": _price(row.exit_price),
            "pnl": _money(row.realized_pnl),
            "exit_kind": str(row.exit_kinds).split(";")[-1],
        }
        for row in closed.itertuples()
    ]


def _positions(day_positions: pd.DataFrame) -> list[dict[str, Any]]:
    """Every package of the day, with whether it was still open when the run folder was written."""
    return [
        {
            "package_id": row.package_id,
            "strategy": row.strategy_id,
            "symbol": row.symbol,
            "structure": row.structure,
            "quantity": int(row.quantity),
            "status": "closed" if str(row.closed_at).strip() else "open",
            "realized_pnl": _money(row.realized_pnl) if str(row.closed_at).strip() else None,
        }
        for row in day_positions.itertuples()
    ]


def value_at_risk(pnl: pd.Series, sample: str) -> dict[str, Any]:
    """Historical and parametric VaR (and CVaR) at 95 % of a P&L sample, as losses in USD (quantstats).

    quantstats works on any series when ``prepare_returns`` is off: its VaR is the normal quantile of the
    sample's mean and standard deviation (parametric), its historical CVaR the mean of the observations at
    or below the empirical 5 % quantile, which is the historical VaR (pandas' linear interpolation, the
    estimator quantstats' historical CVaR uses). Losses are positive; a negative VaR means even the tail
    of the sample made money.
    """
    import quantstats.stats as qs  # heavy (seaborn, yfinance): only when a report is made

    values = pnl.dropna().astype("float64").reset_index(drop=True)
    out: dict[str, Any] = {"sample": sample, "observations": len(values), "confidence": CONFIDENCE}
    if len(values) < 2:
        out.update(historical=None, parametric=None, note="needs at least 2 observations: not computed")
        return out
    alpha = 1 - CONFIDENCE
    hist = float(values.quantile(alpha))
    param = float(qs.value_at_risk(values, confidence=CONFIDENCE, prepare_returns=False))
    hist_cvar = float(
        qs.conditional_value_at_risk(values, confidence=CONFIDENCE, prepare_returns=False, method="historical")
    )
    param_cvar = float(qs.conditional_value_at_risk(values, confidence=CONFIDENCE, prepare_returns=False))
    out["historical"] = {"var": _money(-hist), "cvar": _money(-hist_cvar), "method": "empirical 5 % quantile"}
    out["parametric"] = {
        "var": _money(-param),
        "cvar": _money(-param_cvar),
        "method": "normal (variance-covariance): mean + z(5 %) x standard deviation of the sample",
    }
    if len(values) < FEW:
        out["note"] = (
            f"{len(values)} observations: the 5 % tail lies beyond the sample, so the historical VaR is the worst"
            " observation interpolated and the parametric one rests on a normal law the P&L does not follow"
        )
    return out


def _daily_pnl_until(all_positions: pd.DataFrame, day: date) -> pd.Series:
    closed = closed_packages(all_positions)
    closed = closed[closed["trading_date"] <= day.isoformat()]
    return closed.groupby("trading_date", sort=True)["realized_pnl"].sum()


def _open_risk_per_contract(records: list[dict]) -> dict[str, float]:
    """Each package's maximum loss per contract, from the kernel's first allowed entry decision on it."""
    out: dict[str, float] = {}
    for record in records:
        intent, decision = record.get("intent") or {}, record.get("decision") or {}
        package = intent.get("package")
        if record.get("kind") != "decision" or intent.get("kind") != "entry" or not decision.get("allowed"):
            continue
        try:
            risk, qty = float(intent.get("open_risk") or "nan"), float(intent.get("qty") or 0)
        except (TypeError, ValueError):
            continue
        if package and package not in out and qty > 0 and math.isfinite(risk):
            out[str(package)] = risk / qty
    return out


def exposure(day: _Day) -> tuple[dict[str, Any], pd.Series]:
    """Peak open risk (the packages' maximum loss, USD), time in the market, peak contracts held.

    Returns the figures and the open-risk curve over the day (a step series indexed by UTC time).
    """
    per_contract = _open_risk_per_contract(day.records)
    events: list[tuple[int, float]] = []
    missing = []
    end_ns = int(day.fills["ts_ns"].max()) if not day.fills.empty else None
    intervals = []
    for row in day.positions.itertuples():
        opened = pd.Timestamp(row.opened_at).value
        closed = pd.Timestamp(row.closed_at).value if str(row.closed_at).strip() else (end_ns or opened)
        intervals.append((opened, closed))
        if row.package_id not in per_contract:
            missing.append(row.package_id)
            continue
        risk = per_contract[row.package_id] * int(row.quantity)
        events += [(opened, risk), (closed, -risk)]
    events.sort(key=lambda e: (e[0], e[1]))  # a close before an open at the same instant
    times, levels, level = [], [], 0.0
    for ts, delta in events:
        level += delta
        times.append(ts)
        levels.append(level)
    curve = pd.Series(levels, index=pd.to_datetime(times, utc=True), dtype="float64")
    in_market_ns = 0
    last_end = None
    for start, stop in sorted(intervals):
        start = max(start, last_end) if last_end is not None else start
        if stop > start:
            in_market_ns += stop - start
        last_end = stop if last_end is None else max(last_end, stop)
    held = _peak_contracts(day.fills)
    figures: dict[str, Any] = {
        "peak_open_risk": _money(curve.max()) if len(curve) else 0.0,
        "open_risk_measure": "sum of the open packages' maximum loss (the kernel's open risk at entry), USD",
        "minutes_in_market": round(in_market_ns / 60e9, 1),
        "peak_contracts_held": held,
    }
    if missing:
        figures["packages_without_open_risk"] = missing  # no allowed entry decision in the journal that day
    return figures, curve


def _peak_contracts(fills: pd.DataFrame) -> int:
    """The most option contracts held at once (gross, every leg), one instant's fills taken together."""
    if fills.empty:
        return 0
    held: dict[str, int] = {}
    peak = 0
    for _, instant in fills.groupby("ts_ns", sort=True):
        for iid, qty in zip(instant["instrument_id"], instant["signed_qty"], strict=True):
            held[iid] = held.get(iid, 0) + int(qty)
        peak = max(peak, sum(abs(q) for q in held.values()))
    return peak


def issues(day: _Day) -> dict[str, Any]:
    """What went wrong or was stopped: from the journal's alerts, breakers, locks and stops, and the audit."""
    rejections, mismatches, guards, other_alerts, stops = [], [], [], [], []
    for r in day.records:
        kind, about = r.get("kind"), r.get("about")
        at = _ny(r["ts_ns"])
        if kind == "alert" and about == "order_rejected":
            rejections.append(
                {"time": at, "strategy": r.get("strategy"), "order": r.get("order"), "reason": r.get("reason")}
            )
        elif kind == "alert" and about == "position_mismatch":
            mismatches.append({"time": at, **{k: r.get(k) for k in ("instrument", "broker", "node")}})
        elif kind == "alert" and about == "paper_guard":
            guards.append({"time": at, "reason": r.get("reason")})
        elif kind == "alert":
            who = ", ".join(str(r[k]) for k in ("strategy", "package", "instrument") if r.get(k))
            label = str(about or "risk event").replace("_", " ") + (f" ({who})" if who else "")
            other_alerts.append({"time": at, "error": f"{label}: {r.get('reason')}"})
        elif kind in STOPS_AND_CONTROLS:
            stops.append(
                {
                    "time": at,
                    "kind": kind,
                    "reason": r.get("reason"),
                    **{k: r[k] for k in ("breaker", "strategy", "by") if r.get(k)},
                }
            )
    errors = list(other_alerts)
    errors += [
        {"time": _ny(r["ts_ns"]), "error": "journal line cut short by a crash"}
        for r in day.records
        if r.get("kind") == RECOVERED
    ]
    for v in (day.audit or {}).get("violations", []):
        try:
            on_day = trading_date(pd.Timestamp(str(v.get("ts"))).value) == day.day
        except (ValueError, TypeError):
            on_day = True  # a violation without a readable instant is shown on every day
        if on_day:
            errors.append({"time": str(v.get("ts")), "error": f"audit: {v.get('rule')}: {v.get('detail')}"})
    refusals = Counter(
        str((r.get("decision") or {}).get("code"))
        for r in day.records
        if r.get("kind") == "decision" and not (r.get("decision") or {}).get("allowed")
    )
    return {
        "errors": errors,
        "rejections": rejections,
        "mismatches": mismatches,
        "paper_guard_failures": guards,
        "breakers_locks_and_stops": stops,
        "kernel_refusals": dict(refusals.most_common()),
        "audit": None if day.audit is None else ("passed" if day.audit.get("ok") else "FAILED"),
    }


def build_daily_report(run_dir: str | Path, day: date) -> dict[str, Any]:
    """The day's report as plain JSON (what ``report-<D>.json`` holds)."""
    report, _ = _build(Path(run_dir), _load(Path(run_dir), day))
    return report


def _build(run_dir: Path, data: _Day) -> tuple[dict[str, Any], dict]:
    day = data.day
    summary = build_summary(data.positions, data.records)
    closed = closed_packages(data.positions)
    total = next(row for row in summary["strategies"] if row["strategy"] == TOTAL)
    trades = _trades(closed)
    ranked = sorted(trades, key=lambda t: t["pnl"])
    fees = pd.to_numeric(data.fills["fee"], errors="coerce").sum() if "fee" in data.fills.columns else None
    figures, _ = exposure(data)
    report = {
        "trading_date": day.isoformat(),
        "run_dir": str(run_dir),
        "pnl": total["pnl"],
        "pnl_measure": "realized P&L after fees of the packages closed that day, USD",
        "trades": total["trades"],
        "win_rate": total["win_rate"],
        "avg_pnl": total["avg_pnl"],
        "best_trade": ranked[-1] if ranked else None,
        "worst_trade": ranked[0] if ranked else None,
        "max_drawdown": total["max_drawdown"],
        "drawdown_measure": "largest fall of the day's cumulative realized P&L from its running peak (from 0), USD",
        "fees": _money(fees) if fees is not None else None,
        "open_packages": summary["open_packages"],
        "var": {
            "per_trade": value_at_risk(closed["realized_pnl"], "the day's closed packages (realized P&L per trade)"),
            "per_day": value_at_risk(
                _daily_pnl_until(data.all_positions, day), f"the run's daily realized P&L up to {day}"
            ),
        },
        "exposure": figures,
        "exits_by_kind": {row["strategy"]: row["exits"] for row in summary["strategies"]},
        "strategies": summary["strategies"],
        "trades_list": trades,
        "positions": _positions(data.positions),
        "issues": issues(data),
    }
    return report, summary


# -- writing -------------------------------------------------------------------------------------------


def write_daily_report(run_dir: str | Path, day: date) -> DailyReportPaths:
    """Write ``report-<D>.json`` and ``report-<D>.html`` into the run folder; refused with a clear message
    (``DailyReportError``, ``RunDataError``) when the folder or the day cannot be reported."""
    run_dir = Path(run_dir)
    data = _load(run_dir, day)
    report, summary = _build(run_dir, data)
    paths = DailyReportPaths(run_dir / JSON_NAME.format(day=day), run_dir / HTML_NAME.format(day=day))
    paths.json.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    _, risk_curve = exposure(data)
    page = render_page(report, summary, closed_packages(data.positions), risk_curve)
    paths.html.write_text(page, encoding="utf-8")
    return paths


def report_after_flatten(run_dir: str | Path, day: date) -> DailyReportPaths | None:
    """The live node's automatic report, once the day is flattened: never raises (a report that cannot be
    written must not hide the run's own result); what went wrong is logged."""
    try:
        paths = write_daily_report(run_dir, day)
    except (DailyReportError, RunDataError, OSError) as exc:
        log.error("daily report for %s not written: %s", day, exc)
        return None
    except Exception:  # the run's own result (its audit, its files) must never be hidden by its report
        log.exception("daily report for %s not written", day)
        return None
    log.info("daily report for %s: %s", day, paths.html)
    return paths
