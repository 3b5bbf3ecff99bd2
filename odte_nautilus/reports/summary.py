"""The run's figures per strategy and in total: what a trader asks first (seed 003, "Daily Reports").

Trades are packages (the trade unit, design §5), P&L is realized after fees, the drawdown is the
largest fall of the cumulative realized P&L from its running peak (starting at 0) in close-time order,
and refusals come from the kernel's journal by reason code, so a quiet strategy shows *why* it was quiet.
Everything returned is plain JSON: it goes into ``summary.json`` as is.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pandas as pd
from rich.table import Table

from odte_nautilus.fees import FeeSchedule
from odte_nautilus.reports.frames import (
    DECISIONS_FILE,
    FILLS_COLUMNS,
    FILLS_FILE,
    POSITIONS_FILE,
    RunDataError,
    parse_utc_ns,
    prepare_positions,
    read_decisions,
    read_positions,
    require_columns,
)
from odte_nautilus.risk.model import CONTRACT_MULTIPLIER

TOTAL = "TOTAL"


def summarize(run_dir: str | Path) -> dict:
    """The summary of a run folder (``positions.csv`` and ``decisions.jsonl``)."""
    run_dir = Path(run_dir)
    return build_summary(read_positions(run_dir / POSITIONS_FILE), read_decisions(run_dir / DECISIONS_FILE))


def build_summary(positions: pd.DataFrame, decisions: list[dict]) -> dict:
    closed = closed_packages(positions)
    refusals = refusals_by_strategy(decisions)
    all_refusals = sum(refusals.values(), Counter())
    strategies = sorted(set(closed["strategy_id"]) | set(refusals))
    rows = [_row(s, closed[closed["strategy_id"] == s], refusals.get(s, Counter())) for s in strategies]
    rows.append(_row(TOTAL, closed, all_refusals))
    allowed = sum(1 for d in _decisions(decisions) if d["allowed"])
    daily = closed.groupby("trading_date", sort=True)["realized_pnl"].sum()
    return {
        "strategies": rows,
        "refusals": _by_count(all_refusals),
        "decisions": {"allowed": allowed, "refused": sum(all_refusals.values())},
        "open_packages": len(positions) - len(closed),
        "daily_pnl": {str(day): _money(pnl) for day, pnl in daily.items()},
    }


def fee_summary(fills: pd.DataFrame, schedule: FeeSchedule) -> dict:
    """The run's ``fees`` block: the schedule's items per contract and what the leg fills paid.

    ``total_paid`` is the sum of ``fills.csv``'s ``fee`` column (what the engine charged), in total and per
    strategy; ``contracts`` counts the contracts of the fills that paid (expiry settlement pays none).
    """
    if fills.empty and "fee" not in fills.columns:  # an empty fills.csv: nothing traded, nothing paid
        fills = fills.assign(fee=pd.Series(dtype="str"))
    require_columns(fills, (*FILLS_COLUMNS, "fee"), FILLS_FILE)
    text = fills["fee"].astype(str).str.strip()
    fee = pd.to_numeric(text, errors="coerce")
    bad = fee.isna() | (fee < 0)
    if bad.any():
        index = bad.idxmax()
        raise RunDataError(
            f"{FILLS_FILE}: line {int(index) + 2}: column fee is {text[index]!r}; expected a non-negative USD amount"
        )
    quantity = pd.to_numeric(fills["quantity"], errors="coerce").fillna(0)
    strategy = fills["strategy_id"].astype(str)
    paid = fee > 0
    by_strategy = {
        str(name): {
            "total_paid": _money(fee[strategy == name].sum()),
            "contracts": int(quantity[(strategy == name) & paid].sum()),
        }
        for name in sorted(strategy.unique())
    }
    return {
        **schedule.to_dict(),
        "total_paid": _money(fee.sum()),
        "contracts": int(quantity[paid].sum()),
        "by_strategy": by_strategy,
    }


def cost_split(fills: pd.DataFrame, positions: pd.DataFrame) -> dict[str, dict[str, float]]:
    """Where each strategy's money went: the market's move, the spread paid and the fees, per closed package.

    From ``fills.csv``: the market move is the closed packages' leg fills valued at their mids (mid to mid,
    a settlement at its price), the spread paid is what the fills cost beyond those mids, the fees are what
    they paid. ``realized_pnl`` is ``positions.csv``'s; ``residual`` is what the three leave unexplained
    (leg prices rounded to the cent), shown rather than hidden.
    """
    closed = closed_packages(positions)
    frame = fills[fills["package_id"].astype(str).isin(set(closed["package_id"]))]
    sign = frame["side"].astype(str).str.upper().map({"BUY": 1.0, "SELL": -1.0}).astype("float64")
    contracts = pd.to_numeric(frame["quantity"]) * CONTRACT_MULTIPLIER
    price, mid = pd.to_numeric(frame["price"]), pd.to_numeric(frame["mid"])
    parts = pd.DataFrame(
        {
            "strategy": frame["strategy_id"].astype(str),
            "market_move": -sign * mid * contracts,
            "spread_paid": sign * (price - mid) * contracts,
            "fees": pd.to_numeric(frame["fee"]),
        }
    )
    pnl = closed.groupby("strategy_id")["realized_pnl"].sum()
    out = {}
    for name, part in [*parts.groupby("strategy"), (TOTAL, parts)]:
        realized = float(pnl.sum() if name == TOTAL else pnl.get(name, 0.0))
        move, spread, fees = (float(part[c].sum()) for c in ("market_move", "spread_paid", "fees"))
        out[str(name)] = {
            "realized_pnl": _money(realized),
            "market_move": _money(move),
            "spread_paid": _money(spread),
            "fees": _money(fees),
            "residual": _money(realized - (move - spread - fees)),
        }
    return out


def closed_packages(positions: pd.DataFrame) -> pd.DataFrame:
    """Packages with a close time and a realized P&L, in close-time order (``closed_ns``, UTC ns)."""
    frame = prepare_positions(positions)
    frame = frame[frame["realized_pnl"].notna() & (frame["closed_at"].str.strip() != "")].copy()
    frame["closed_ns"] = parse_utc_ns(frame["closed_at"], POSITIONS_FILE, "closed_at")
    return frame.sort_values("closed_ns", kind="stable")


def equity_curve(closed: pd.DataFrame) -> pd.Series:
    """Cumulative realized P&L after each close (``closed`` as from ``closed_packages``), indexed by time."""
    index = pd.to_datetime(closed["closed_ns"], utc=True)
    return pd.Series(closed["realized_pnl"].cumsum().to_numpy(), index=index, dtype="float64")


def drawdown(curve: pd.Series) -> pd.Series:
    """Distance below the running peak (<= 0); the peak starts at 0, the P&L before the first trade."""
    return curve - curve.cummax().clip(lower=0.0)


def refusals_by_strategy(decisions: list[dict]) -> dict[str, Counter]:
    counts: dict[str, Counter] = {}
    for record in _decisions(decisions):
        if not record["allowed"]:
            counts.setdefault(record["strategy"], Counter())[record["code"]] += 1
    return counts


def _decisions(records: list[dict]) -> list[dict]:
    """Kernel decisions (``kind`` = decision) as {strategy, allowed, code}; other kinds are not decisions."""
    out = []
    for record in records:
        if record.get("kind") != "decision":
            continue
        decision = record.get("decision")
        if not isinstance(decision, dict) or not isinstance(decision.get("allowed"), bool):
            raise RunDataError(
                f"{DECISIONS_FILE}: a decision record at {record.get('ts', '?')} has no boolean decision.allowed;"
                " the kernel's journal must write Decision.to_dict() under 'decision'"
            )
        strategy = record.get("strategy") or (record.get("intent") or {}).get("strategy_id", "")
        out.append({"strategy": str(strategy), "allowed": decision["allowed"], "code": str(decision.get("code"))})
    return out


def _row(strategy: str, closed: pd.DataFrame, refusals: Counter) -> dict:
    pnl = closed["realized_pnl"]
    trades = len(pnl)
    curve = equity_curve(closed)
    return {
        "strategy": strategy,
        "trades": trades,
        "pnl": _money(pnl.sum()),
        "max_drawdown": _money(-drawdown(curve).min()) if trades else 0.0,
        "win_rate": round(float((pnl > 0).sum()) / trades, 4) if trades else None,
        "avg_pnl": _money(pnl.mean()) if trades else None,
        "best_trade": _money(pnl.max()) if trades else None,
        "worst_trade": _money(pnl.min()) if trades else None,
        "refusals": _by_count(refusals),
        "exits": exits_by_kind(closed),
    }


def exits_by_kind(closed: pd.DataFrame) -> dict[str, dict[str, float | int]]:
    """Closed packages by the exit that closed them, with their count and realized P&L after fees.

    A package closed in parts (a partial take-profit, then the rest) counts under the exit that took the
    rest: the P&L is the package's, not a part's. Worst P&L first, so the exit that costs most leads.
    """
    if closed.empty:
        return {}
    kinds = closed["exit_kinds"].astype(str).str.split(";").str[-1]
    grouped = closed.groupby(kinds)["realized_pnl"]
    out = {str(kind): {"packages": int(pnl.count()), "pnl": _money(pnl.sum())} for kind, pnl in grouped}
    return dict(sorted(out.items(), key=lambda item: (item[1]["pnl"], item[0])))


def _money(value: float) -> float:
    return round(float(value), 2) + 0.0  # + 0.0 turns -0.0 into 0.0


def _by_count(counts: Counter) -> dict[str, int]:
    return {code: n for code, n in sorted(counts.items(), key=lambda item: (-item[1], item[0]))}


def _dollars(value: float | None) -> str:
    return "-" if value is None else f"{value:+,.2f}"


def render_table(summary: dict) -> Table:
    """The console table of ``odte backtest``: one row per strategy, then the TOTAL."""
    rows = summary["strategies"]
    table = Table(title="Backtest summary (realized P&L after fees, USD)")
    table.add_column("Strategy", no_wrap=True, min_width=max(len(row["strategy"]) for row in rows))
    for name in ("Trades", "P&L", "Max DD", "Win rate", "Avg P&L", "Best", "Worst"):
        table.add_column(name, justify="right", no_wrap=True)
    table.add_column("Refusals by reason")
    for i, row in enumerate(rows):
        win_rate = "-" if row["win_rate"] is None else f"{row['win_rate']:.1%}"
        reasons = "\n".join(f"{code} {n}" for code, n in row["refusals"].items()) or "-"  # one code a line
        table.add_row(
            row["strategy"],
            str(row["trades"]),
            _dollars(row["pnl"]),
            f"{row['max_drawdown']:,.2f}",
            win_rate,
            _dollars(row["avg_pnl"]),
            _dollars(row["best_trade"]),
            _dollars(row["worst_trade"]),
            reasons,
            end_section=i == len(rows) - 2,
            style="bold" if row["strategy"] == TOTAL else None,
        )
    return table
