"""What the control API does to a running node: each action runs on the node's own event loop.

Nautilus's cache, engines and strategies are not thread-safe, so the server hands every action to the node's
loop (``bridge.py``) and this module is only ever called there. The actions use the paths the node already
has and add no new one: the risk book's durable kill switch (the gate cancels working entries on it), the
store's strategy switches and manual resets, and each strategy's own package exit.

A flatten closes each package **as a package** through its strategy's ``exit_package`` (one multi-leg order:
its short legs never go without their wings), with the exit kind ``manual``, which the strategy keeps and
re-sends if the order is cancelled. Positions of strategies that keep no package ledger (a manual trader, a
plain Nautilus strategy) are closed the node guard's way: shorts first, a long only once no short of its
group is left. A few follow-up rounds retry what could not go at once (an order being cancelled, no bid yet).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from odte_nautilus.orders import package_tags
from odte_nautilus.risk.journal import iso_utc
from odte_nautilus.risk.model import CoverGroup, ExitKind, Holding, IntentKind, PackageState
from odte_nautilus.risk.store import DayRecord

if TYPE_CHECKING:
    from odte_nautilus.live.node import PaperNode

FLATTEN_ROUNDS = 60  # follow-up rounds of a flatten, one a second: a minute of retries at most
FLATTEN_ROUND_S = 1.0


class UnknownStrategy(LookupError):
    """A strategy id the node does not run and its risk profile does not name."""


@dataclass
class FlattenJob:
    """The follow-up rounds of one flatten, until nothing is held or the rounds run out."""

    by: str
    rounds_left: int = FLATTEN_ROUNDS
    handle: asyncio.TimerHandle | None = field(default=None, repr=False)


class NodeControl:
    """The control actions on one paper node. Call every method on the node's event loop."""

    def __init__(self, paper: PaperNode) -> None:
        self._paper = paper
        self._gate = paper.runtime.gate
        self._book = paper.book
        self._job: FlattenJob | None = None

    def now_ns(self) -> int:
        return self._paper.node.kernel.clock.timestamp_ns()

    def strategy_ids(self) -> list[str]:
        """The strategies running on the node, and any the store holds disabled (it may still be enabled)."""
        return sorted(set(self._gate.strategies()) | self._day().disabled_strategies)

    def require_strategy(self, strategy_id: str) -> None:
        if strategy_id not in self.strategy_ids():
            known = ", ".join(self.strategy_ids()) or "none"
            raise UnknownStrategy(f"no strategy {strategy_id!r} on this node (it runs: {known})")

    # -- risk-reducing: anyone who reaches the port -------------------------------------------------

    def emergency_stop(self, by: str, reason: str) -> dict[str, Any]:
        """Seed 003's emergency stop: durable, every new entry refused, working entries cancelled."""
        now = self.now_ns()
        was_on = self._day().kill_switch
        entries = self._working_entries()
        self._book.kill(by, reason, now)  # durable first; the gate's listener cancels the working entries
        return {
            "action": "emergency-stop",
            "kill_switch": True,
            "already_on": was_on,
            "by": by,
            "reason": reason,
            "time": iso_utc(now),
            "cancelled_entries": entries,
            "note": "no new entries from anyone; exits keep running; POST /live/reset (with the token) resumes",
        }

    def flatten(self, by: str, reason: str) -> dict[str, Any]:
        """Cancel every working entry, then close every package as a package and every other position."""
        now = self.now_ns()
        self._book.journal.append("flatten", ts_ns=now, by=by, reason=reason)
        cancelled = self._working_entries()
        for order_id in cancelled:
            self._gate.cancel_order(order_id, now)
        packages = self._close_packages()
        positions = self._close_foreign_positions()
        self._follow_up(by)
        return {
            "action": "flatten",
            "by": by,
            "reason": reason,
            "time": iso_utc(now),
            "cancelled_entries": cancelled,
            "packages": packages,
            "positions": positions,
        }

    def disable(self, strategy_id: str, by: str, reason: str) -> dict[str, Any]:
        """A strategy off: its entries refused until enabled; its working entries cancelled; exits run."""
        self.require_strategy(strategy_id)
        now = self.now_ns()
        self._book.store.set_strategy_enabled(strategy_id, False, by=by, reason=reason, ts_ns=now)
        self._book.journal.append("strategy_switch", ts_ns=now, strategy=strategy_id, on=False, by=by, reason=reason)
        cancelled = self._working_entries(strategy_id)
        for order_id in cancelled:
            self._gate.cancel_order(order_id, now)
        return {"action": "disable", "strategy": strategy_id, "enabled": False, "cancelled_entries": cancelled}

    # -- risk-increasing: the token -------------------------------------------------------------------

    def enable(self, strategy_id: str, by: str, reason: str) -> dict[str, Any]:
        self.require_strategy(strategy_id)
        now = self.now_ns()
        self._book.store.set_strategy_enabled(strategy_id, True, by=by, reason=reason, ts_ns=now)
        self._book.journal.append("strategy_switch", ts_ns=now, strategy=strategy_id, on=True, by=by, reason=reason)
        return {"action": "enable", "strategy": strategy_id, "enabled": True}

    def reset(self, by: str, reason: str) -> dict[str, Any]:
        """The manual reset of seed 003: the kill switch and the RISK-OFF breaker off, with who and why.

        What a reset never undoes: a locked day (EOD flatten, hard stop, streak stop: no unlock exists), a
        strategy's breaker (it resets itself the next trading day) and a disabled strategy (enable it)."""
        now = self.now_ns()
        before = self._day()
        self._book.store.set_kill_switch(False, by=by, reason=reason, ts_ns=now)
        self._book.store.reset_global_breaker(by=by, reason=reason, ts_ns=now)
        self._book.journal.append(
            "reset",
            ts_ns=now,
            by=by,
            reason=reason,
            kill_switch=before.kill_switch,
            global_breaker=before.global_breaker,
        )
        after = self._day()
        return {
            "action": "reset",
            "by": by,
            "reason": reason,
            "time": iso_utc(now),
            "kill_switch_was_on": before.kill_switch,
            "global_breaker_was_on": before.global_breaker,
            "still_refusing": {
                "day_locked": after.lock_reason if after.day_locked else None,
                "strategy_breakers": sorted(after.strategy_breakers),
                "disabled_strategies": sorted(after.disabled_strategies),
            },
        }

    # -- the flatten's parts ---------------------------------------------------------------------------

    def _close_packages(self) -> list[dict[str, Any]]:
        """Every held package of a strategy that keeps a ledger, closed by that strategy as one order."""
        out = []
        for strategy_id, strategy in sorted(self._gate.strategies().items()):
            packages = getattr(strategy, "packages", None)
            if strategy_id not in self._gate.self_reporting or not isinstance(packages, dict):
                continue
            for package_id, package in list(packages.items()):
                ledger = package.ledger
                if not ledger.quantity:
                    continue  # an entry that has not filled: cancelled above
                package.exit_kind = ExitKind.MANUAL  # kept: the strategy re-sends it, same kind, if cancelled
                if ledger.can_exit():
                    strategy.exit_package(package_id, ExitKind.MANUAL)
                out.append(
                    {
                        "strategy": strategy_id,
                        "package": package_id,
                        "quantity": ledger.quantity,
                        "legs": [f"{leg.contract.instrument_id}:{leg.ratio}" for leg in ledger.legs],
                        "exit": "sent" if ledger.state is PackageState.PENDING_EXIT else "at the next quote",
                    }
                )
        return out

    def _close_foreign_positions(self) -> list[dict[str, Any]]:
        """Positions of strategies without a package ledger: shorts first, a long once its group has none."""
        gate = self._gate
        strategies = gate.strategies()
        snapshot = gate.exposure.snapshot()
        busy = {w.strategy_id for w in snapshot.working}
        cache = self._paper.node.kernel.cache
        out = []
        for strategy_id, held in sorted(snapshot.strategies.items()):
            strategy = strategies.get(strategy_id)
            if strategy is None or strategy_id in gate.self_reporting or strategy_id in busy:
                continue
            shorts = {iid for iid, h in held.items() if h.quantity < 0}
            short_groups = {_group(held[iid]) for iid in shorts}
            for position in cache.positions_open(strategy_id=strategy.id):
                iid = position.instrument_id.value
                holding = held.get(iid)
                if holding is None or (iid not in shorts and _group(holding) in short_groups):
                    continue  # a long waits until no short of its group is left
                strategy.close_position(position, tags=package_tags(f"manual-{iid}", ExitKind.MANUAL))
                out.append({"strategy": strategy_id, "instrument": iid, "quantity": holding.quantity})
        return out

    def _follow_up(self, by: str) -> None:
        if self._job is not None and self._job.handle is not None:
            self._job.handle.cancel()
        self._job = FlattenJob(by)
        self._schedule()

    def _schedule(self) -> None:
        job = self._job
        if job is None or job.rounds_left <= 0:
            self._job = None
            return
        loop = asyncio.get_running_loop()
        job.handle = loop.call_later(FLATTEN_ROUND_S, self._round)

    def _round(self) -> None:
        """One retry: a package not yet going out goes now; foreign positions get their next round."""
        job = self._job
        if job is None:
            return
        job.rounds_left -= 1
        busy = False
        for strategy_id, strategy in self._gate.strategies().items():
            packages = getattr(strategy, "packages", None)
            if strategy_id not in self._gate.self_reporting or not isinstance(packages, dict):
                continue
            for package_id, package in list(packages.items()):
                if package.ledger.quantity and package.exit_kind is ExitKind.MANUAL:
                    busy = True
                    if package.ledger.can_exit():
                        strategy.exit_package(package_id, ExitKind.MANUAL)
        if self._close_foreign_positions() or any(
            s not in self._gate.self_reporting for s in self._gate.exposure.snapshot().strategies
        ):
            busy = True
        if busy:
            self._schedule()
        else:
            self._job = None

    # -- reading ------------------------------------------------------------------------------------

    def _day(self) -> DayRecord:
        return self._book.store.load_day(self._book.calendar.trading_date(self.now_ns()))

    def _working_entries(self, strategy_id: str | None = None) -> list[str]:
        working = self._gate.exposure.snapshot().working
        return [
            w.order_id
            for w in working
            if w.kind is IntentKind.ENTRY and (strategy_id is None or w.strategy_id == strategy_id)
        ]


def _group(holding: Holding) -> CoverGroup:
    ct = holding.contract
    return ct.underlying, ct.expiry_ns, ct.right
