"""What ``GET /live/status`` and the dashboard show: read-only, from the node's own books.

``node_status`` reads the Nautilus cache and the risk book, so it runs on the node's loop like every action;
``journal_tail`` reads the journal file (decisions with their reasons, alerts, breakers, the kill switch) and
runs anywhere. Nothing here changes anything.

The risk word per strategy and for the node, most severe first: ``RISK-OFF`` while the global breaker holds
(seed 003: manual reset), ``STOPPED`` under the kill switch, ``LOCKED`` once the day is locked, then per
strategy ``BREAKER`` (its own breaker, until the next trading day) and ``DISABLED``; else ``ON``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nautilus_trader.model.identifiers import InstrumentId

from odte_nautilus.live.broker_watch import TIMER as WATCH_TIMER
from odte_nautilus.live.broker_watch import BrokerWatch
from odte_nautilus.risk.journal import iso_utc
from odte_nautilus.risk.ladder import ladder_losses, ladder_stage, streak_stage
from odte_nautilus.risk.model import PackageView, RiskState
from odte_nautilus.risk.rate_limits import entries_within
from odte_nautilus.risk.time_units import HOUR_NS, MINUTE_NS

if TYPE_CHECKING:
    from nautilus_trader.cache.cache import Cache

    from odte_nautilus.live.node import PaperNode

ALERT_KINDS = frozenset({"alert", "breaker", "lock", "kill_switch", "reset", "flatten", "strategy_switch"})
TAIL_BYTES = 512 * 1024  # the end of the journal the dashboard reads: thousands of lines


def node_status(paper: PaperNode) -> dict[str, Any]:
    """The node now: risk state (global and per strategy), limits, packages with marks, guards. Node loop."""
    kernel = paper.node.kernel
    gate, book, policy = paper.runtime.gate, paper.book, paper.policy
    now = kernel.clock.timestamp_ns()
    state = gate.state(now)
    day = book.calendar.trading_date(now)
    record = book.store.load_day(day)
    pnl = state.day_pnl()
    packages = [_package(view, kernel.cache, paper) for view in state.packages if view.is_live]
    unrealized = sum(p["unrealized_pnl"] for p in packages)
    global_word = _risk_word(state)
    strategies = {}
    known = set(gate.strategies()) | set(state.strategy_realized_pnl) | state.disabled_strategies
    for sid in sorted(known):
        strategies[sid] = _strategy_status(sid, state, record.strategy_trades.get(sid, 0), global_word, paper, now)
    soft, hard = ladder_losses(book.nav, policy.drawdown_ladder)
    rate = policy.rate_limits
    return {
        "time": iso_utc(now),
        "ts_ns": now,
        "trading_date": day.isoformat(),
        "risk": {
            "state": global_word,
            "kill_switch": state.kill_switch,
            "kill_switch_reason": record.kill_switch_reason,
            "global_breaker": state.global_breaker,
            "global_breaker_reason": record.global_breaker_reason,
            "day_locked": state.day_locked,
            "lock_reason": state.lock_reason,
            "ladder": {
                "stage": ladder_stage(pnl, book.nav, policy.drawdown_ladder).value,
                "soft_stop_loss": round(soft, 2),
                "hard_stop_loss": round(hard, 2),
                "nav": book.nav,
            },
            "streak": {
                "losses": state.loss_streak,
                "stage": streak_stage(state.loss_streak, policy.loss_streak).value,
                "half_size_after": policy.loss_streak.half_size_after,
                "stop_after": policy.loss_streak.stop_after,
            },
            "trades_today": state.trades_today,
            "max_trades_per_day": policy.max_trades_per_day,
        },
        "pnl": {
            "realized": round(state.realized_pnl, 2),
            "unrealized": round(unrealized, 2),
            "day": round(state.realized_pnl + unrealized, 2),
            "kernel_day": round(pnl, 2),  # what the ladder and the breakers read (marks as of the last event)
        },
        "rate_limits": {
            "packages_last_hour": entries_within(_all_entries(state), now, HOUR_NS),
            "packages_per_hour_total": rate.packages_per_hour_total if rate else None,
            "packages_per_minute_per_strategy": rate.packages_per_minute_per_strategy if rate else None,
        },
        "strategies": strategies,
        "packages": packages,
        "working_orders": [
            {"order": w.order_id, "strategy": w.strategy_id, "kind": w.kind.value, "quantity": w.quantity}
            for w in state.working
        ],
        "guards": _guards(paper, state),
        "reconciliation": _reconciliation(paper),
    }


def _risk_word(state: RiskState, strategy_id: str | None = None) -> str:
    if state.global_breaker:
        return "RISK-OFF"
    if state.kill_switch:
        return "STOPPED"
    if state.day_locked:
        return "LOCKED"
    if strategy_id is not None and strategy_id in state.strategy_breakers:
        return "BREAKER"
    if strategy_id is not None and strategy_id in state.disabled_strategies:
        return "DISABLED"
    return "ON"


def _strategy_status(
    sid: str, state: RiskState, trades: int, global_word: str, paper: PaperNode, now: int
) -> dict[str, Any]:
    rate = paper.policy.rate_limits
    limits = paper.policy.strategy(sid)
    return {
        "state": _risk_word(state, sid),
        "enabled": sid not in state.disabled_strategies,
        "breaker": sid in state.strategy_breakers,
        "running": sid in paper.runtime.gate.strategies(),
        "realized_pnl": round(state.strategy_realized_pnl.get(sid, 0.0), 2),
        "day_pnl": round(state.day_pnl(sid), 2),
        "max_daily_loss": limits.max_daily_loss if limits else None,
        "trades_today": trades,
        "packages": sum(1 for p in state.packages if p.is_live and p.strategy_id == sid),
        "packages_last_minute": entries_within(state.entry_times_ns.get(sid, ()), now, MINUTE_NS),
        "packages_per_minute": rate.packages_per_minute_per_strategy if rate else None,
    }


def _all_entries(state: RiskState) -> tuple[int, ...]:
    return tuple(sorted(t for times in state.entry_times_ns.values() for t in times))


def _package(view: PackageView, cache: Cache, paper: PaperNode) -> dict[str, Any]:
    legs, mark = [], 0.0
    for leg in view.legs:
        quote = cache.quote_tick(InstrumentId.from_str(leg.contract.instrument_id))
        bid = quote.bid_price.as_double() if quote is not None else None
        ask = quote.ask_price.as_double() if quote is not None else None
        mid = (bid + ask) / 2 if bid is not None and ask is not None else None
        mark = mark + leg.ratio * mid if mid is not None and mark is not None else None  # type: ignore[assignment]
        legs.append(
            {
                "instrument": leg.contract.instrument_id,
                "ratio": leg.ratio,
                "strike": leg.contract.strike,
                "right": leg.contract.right.value,
                "bid": bid,
                "ask": ask,
                "mid": mid,
            }
        )
    entry = _entry_price(paper, view)
    pnl = view.unrealized_pnl  # the book's, as of the package's last event
    if entry is not None and mark is not None and view.legs:  # at this moment's mids, as the strategy marks it
        pnl = (mark - entry) * view.legs[0].contract.multiplier * view.quantity
    return {
        "strategy": view.strategy_id,
        "package": view.package_id,
        "symbol": view.symbol,
        "state": view.state.value,
        "quantity": view.quantity,
        "entry_price": entry,
        "mark": None if mark is None else round(mark, 4),
        "unrealized_pnl": round(pnl, 2),
        "open_risk": round(view.open_risk, 2),
        "legs": legs,
    }


def _entry_price(paper: PaperNode, view: PackageView) -> float | None:
    strategy = paper.runtime.gate.strategies().get(view.strategy_id)
    package = getattr(strategy, "packages", {}).get(view.package_id) if strategy is not None else None
    if package is None or not package.ledger.quantity:
        return None
    return round(package.ledger.filled_entry_price, 4)


def broker_watch(paper: PaperNode) -> BrokerWatch | None:
    for actor in paper.node.kernel.trader.actors():
        if isinstance(actor, BrokerWatch):
            return actor
    return None


def _guards(paper: PaperNode, state: RiskState) -> dict[str, Any]:
    account = state.account
    return {
        "paper_account": account.is_paper_account,
        "broker_paper_mode": account.broker_paper_mode,
        "ok": account.is_paper_account and account.broker_paper_mode,
        "require_paper": paper.policy.require_paper,
    }


def _reconciliation(paper: PaperNode) -> dict[str, Any]:
    watch = broker_watch(paper)
    if watch is None:
        return {"watch": False}
    clock = watch.clock
    next_ns = clock.next_time_ns(WATCH_TIMER) if WATCH_TIMER in clock.timer_names else None
    return {
        "watch": True,
        "passes": watch.passes,
        "every_seconds": watch.config.every_seconds,
        "last_check": iso_utc(watch.last_check_ns) if watch.last_check_ns is not None else None,
        "next_due": iso_utc(next_ns) if next_ns else None,
        "mismatches": list(watch.mismatches[-10:]),
    }


def journal_tail(path: Path, decisions: int = 30, alerts: int = 30) -> dict[str, list[dict[str, Any]]]:
    """The latest kernel decisions (with their reasons) and alerts of the journal, newest first."""
    try:
        size = path.stat().st_size
        with open(path, "rb") as handle:
            handle.seek(max(0, size - TAIL_BYTES))
            raw = handle.read()
    except OSError:
        return {"decisions": [], "alerts": []}
    lines = raw.split(b"\n")
    if size > TAIL_BYTES:
        lines = lines[1:]  # the first may be cut
    found_decisions: list[dict[str, Any]] = []
    found_alerts: list[dict[str, Any]] = []
    for line in reversed(lines):
        if len(found_decisions) >= decisions and len(found_alerts) >= alerts:
            break
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if not isinstance(record, dict):
            continue
        kind = record.get("kind")
        if kind == "decision" and len(found_decisions) < decisions:
            found_decisions.append(_decision_line(record))
        elif kind in ALERT_KINDS and len(found_alerts) < alerts:
            found_alerts.append({k: v for k, v in record.items() if k != "ts_ns"})
    return {"decisions": found_decisions, "alerts": found_alerts}


def _decision_line(record: dict[str, Any]) -> dict[str, Any]:
    intent, decision = record.get("intent") or {}, record.get("decision") or {}
    return {
        "time": record.get("time"),
        "source": record.get("source"),
        "strategy": record.get("strategy"),
        "kind": intent.get("kind"),
        "package": intent.get("package"),
        "allowed": decision.get("allowed"),
        "code": decision.get("code"),
        "reason": decision.get("reason"),
    }


def journal_path(paper: PaperNode) -> Path:
    return Path(os.fspath(paper.book.journal.path))
