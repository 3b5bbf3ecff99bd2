"""The risk book: the kernel's memory, one per node (backtest or live), shared by every strategy in it.

The kernel is pure and forgetful; the book is what remembers. It builds the ``RiskState`` the kernel
reads from the durable store (so a restart or a CLI emergency stop is seen at the next check), the live
packages the strategies report, and the engine's own holdings; it journals every decision; and it turns
what happened (a closed package, the EOD flatten, a drawdown) into durable consequences: the day lock,
the breakers, the streak. Nothing here imports Nautilus.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import date
from pathlib import Path

from odte_nautilus.risk.decision import Decision
from odte_nautilus.risk.exposure import WorkingOrder
from odte_nautilus.risk.journal import AuditJournal
from odte_nautilus.risk.kernel import Kernel
from odte_nautilus.risk.ladder import (
    LadderStage,
    StreakStage,
    ladder_stage,
    loss_reached,
    strategy_breaker_loss,
    streak_stage,
)
from odte_nautilus.risk.model import (
    AccountMode,
    Holding,
    Intent,
    PackageView,
    RiskState,
    StateIndex,
    holdings_of_packages,
)
from odte_nautilus.risk.policy import RiskPolicy
from odte_nautilus.risk.session import TradingCalendar
from odte_nautilus.risk.store import DayRecord, RiskStateFields, RiskStore

EOD_LOCK_REASON = "EOD flatten done: the day is over"


class RiskBook:
    def __init__(
        self,
        policy: RiskPolicy,
        state_path: str | Path,
        journal_path: str | Path,
        nav: float,
        account: AccountMode = AccountMode(),
        calendar: TradingCalendar | None = None,
        durable: bool = True,
        exclusive: bool = False,
    ) -> None:
        """``durable`` and ``exclusive`` go to the ``RiskStore``: a backtest's state is neither (nobody else
        writes it, and nothing needs it after a crash); a node's is durable and shared with the CLI."""
        self.policy = policy
        self.kernel = Kernel(policy)
        self.store = RiskStore(state_path, durable=durable, exclusive=exclusive)
        self.journal = AuditJournal(journal_path, flush_each_line=durable)
        self.calendar = calendar or TradingCalendar()
        self.nav = nav
        self.account = account
        self.packages: dict[tuple[str, str], PackageView] = {}  # (strategy id, package id) -> view
        # What the last states were built from, kept while unchanged so that the next state carries the same
        # objects and its kernel check reuses the index derived from them (RiskState.index checks identity).
        self._views: tuple[PackageView, ...] | None = None
        self._record: DayRecord | None = None
        self._fields: RiskStateFields = {}
        self._index: StateIndex | None = None
        # What the last ``enforce`` read: (the day's record, views, NAV); see ``enforce``.
        self._enforced: tuple[DayRecord | None, tuple[PackageView, ...] | None, float] | None = None
        self._kill_listeners: list[Callable[[int], None]] = []

    # -- asking ------------------------------------------------------------------------------------

    def state(
        self,
        now_ns: int,
        holdings: dict[str, Holding] | None = None,
        strategy_holdings: dict[str, dict[str, Holding]] | None = None,
        working: tuple[WorkingOrder, ...] = (),
        without: tuple[str, str] | None = None,
    ) -> RiskState:
        """The kernel's view at ``now_ns``; ``holdings`` default to what the tracked packages imply.

        On a node the engine gate passes the engine's own books: the account's holdings, each strategy's,
        and every order that may still fill (``odte_nautilus.node_exposure``). ``without`` leaves out one
        (strategy, package): the package a modify is re-checked for, which the modified order replaces.
        """
        day = self.calendar.trading_date(now_ns)
        record = self.store.load_day(day)
        if record is not self._record:
            self._record, self._fields = record, record.risk_state_fields()
        if without is not None and without in self.packages:
            packages = tuple(view for key, view in self.packages.items() if key != without)
        else:
            if self._views is None:
                self._views = tuple(self.packages.values())
            packages = self._views
        state = RiskState(
            now_ns=now_ns,
            session=self.calendar.session_window(day, self.policy.eod.flatten_minutes_before_close),
            nav=self.nav,
            holdings=holdings if holdings is not None else holdings_of_packages(packages),
            strategy_holdings=strategy_holdings,
            working=working,
            packages=packages,
            account=self.account,
            **self._fields,
        )
        state._index = self._index  # used only if derived from these very objects (RiskState.index checks)
        return state

    def check(self, intent: Intent, state: RiskState | None = None, source: str = "strategy") -> Decision:
        """Ask the kernel and journal the answer (every decision, allowed or not, is one journal line)."""
        state = state if state is not None else self.state(intent.ts_ns)
        decision = self.kernel.check(intent, state)
        self._index = state._index
        self.journal.record(intent, decision, ts_ns=intent.ts_ns, source=source)
        return decision

    def check_standing(self, intent: Intent, state: RiskState) -> Decision | None:
        """Ask the rules that read neither price nor size about an entry not yet priced (``Kernel.check_standing``);
        a refusal is journaled with source ``plan`` (the intent's price is 0: it was never priced). An entry that
        passes is not journaled here: its order is checked whole, and journaled, once priced."""
        decision = self.kernel.check_standing(intent, state)
        if decision is not None:
            self.journal.record(intent, decision, ts_ns=intent.ts_ns, source="plan")
        return decision

    # -- what happened -----------------------------------------------------------------------------

    def track(self, views: Iterable[PackageView]) -> None:
        """Replace the book's picture of the given packages (FLAT ones are forgotten).

        Packages are keyed by strategy and package id: a package id is a name a strategy chose, and one
        strategy naming another's package must not overwrite it.
        """
        for view in views:
            key = (view.strategy_id, view.package_id)
            self._views = None
            if view.is_live:
                self.packages[key] = view
            else:
                self.packages.pop(key, None)

    def record_entry(self, intent: Intent) -> None:
        """An entry was sent: it counts against the day's trades and the rate limits from now on."""
        self.store.record_entry(self.calendar.trading_date(intent.ts_ns), intent.strategy_id, intent.ts_ns)

    def record_close(self, strategy_id: str, pnl: float, ts_ns: int) -> None:
        """A package closed with ``pnl`` dollars: book it, then apply the ladder, streak and breakers."""
        self.store.record_close(self.calendar.trading_date(ts_ns), strategy_id, pnl)
        self.enforce(ts_ns)

    def enforce(self, now_ns: int) -> list[str]:
        """Turn the day's numbers into durable consequences; returns what tripped (for logs and alerts).

        Called after every close and on every index bar a strategy sees, so an unrealized drawdown locks the day
        too. The kernel refuses on the same numbers even before this runs; this makes it stick.

        What it reads is the day's record, the tracked views and the NAV, never the clock. While those equal
        what the last call read (mostly the very objects: the store hands out a new record for another day and
        after any write, ours or another connection's, and ``track`` drops the views), the answer cannot differ
        and it returns at once: each strategy enforces on every bar, and most bars change one strategy's marks,
        or none.
        """
        day = self.calendar.trading_date(now_ns)
        last = self._enforced
        if last is not None and last == (self.store.load_day(day), self._views, self.nav):
            return []
        state = self.state(now_ns, holdings={})  # P&L and flags only: the legs held are the kernel's business
        self._enforced = (self._record, self._views, self.nav)
        pnl = state.day_pnl()
        p = self.policy
        lock_reasons = []
        if p.drawdown_ladder and ladder_stage(pnl, self.nav, p.drawdown_ladder) is LadderStage.HARD_STOP:
            lock_reasons.append(f"hard stop: day P&L {pnl:,.2f} reached -{p.drawdown_ladder.hard_stop_pct}% of NAV")
        if p.global_limits and loss_reached(pnl, p.global_limits.max_daily_loss):
            lock_reasons.append(f"daily hard stop: day P&L {pnl:,.2f} <= -{p.global_limits.max_daily_loss:,.0f}")
        if p.loss_streak and streak_stage(state.loss_streak, p.loss_streak) is StreakStage.STOP:
            lock_reasons.append(f"loss streak: {state.loss_streak} consecutive losses stop the day")
        tripped = [self._lock(day, reason, now_ns, state) for reason in lock_reasons]
        if p.breakers and loss_reached(pnl, p.breakers.global_daily_loss) and not state.global_breaker:
            reason = f"RISK-OFF: day P&L {pnl:,.2f} <= -{p.breakers.global_daily_loss:,.0f}; manual reset required"
            self.store.trip_global_breaker(reason, ts_ns=now_ns)
            self.journal.append("breaker", ts_ns=now_ns, breaker="global", reason=reason)
            tripped.append(reason)
        if p.breakers:
            strategies = set(state.strategy_realized_pnl) | {pkg.strategy_id for pkg in state.packages}
            for sid in sorted(strategies - state.strategy_breakers):
                limits = p.strategy(sid)
                s_pnl = state.day_pnl(sid)
                if limits and loss_reached(s_pnl, strategy_breaker_loss(p.breakers, limits)):
                    reason = (
                        f"{sid} day P&L {s_pnl:,.2f} <= -{p.breakers.strategy_loss_fraction:.0%}"
                        f" of its max daily loss {limits.max_daily_loss:,.0f}; auto-reset next trading day"
                    )
                    self.store.trip_strategy_breaker(day, sid, reason)
                    self.journal.append("breaker", ts_ns=now_ns, breaker="strategy", strategy=sid, reason=reason)
                    tripped.append(reason)
        return [t for t in tripped if t]

    def lock_for_eod(self, now_ns: int) -> None:
        """The EOD flatten has run: the day is locked and cannot reopen, not even after a restart."""
        day = self.calendar.trading_date(now_ns)
        self._lock(day, EOD_LOCK_REASON, now_ns, self.state(now_ns))

    def _lock(self, day: date, reason: str, now_ns: int, state: RiskState) -> str:
        if state.day_locked:
            return ""
        self.store.lock_day(day, reason, ts_ns=now_ns)
        self.journal.append("lock", ts_ns=now_ns, trading_date=day.isoformat(), reason=reason)
        state.day_locked = True
        return reason

    # -- manual controls (risk-reducing ones need no authorization; design §15) -------------

    def kill(self, by: str, reason: str, now_ns: int) -> None:
        """Seed 003's emergency stop: no new entries from anyone, and working entries are cancelled (the
        node's gate listens, ``on_kill``) - an entry left working could still fill after the stop."""
        self.store.set_kill_switch(True, by=by, reason=reason, ts_ns=now_ns)
        self.journal.append("kill_switch", ts_ns=now_ns, on=True, by=by, reason=reason)
        for listener in list(self._kill_listeners):
            listener(now_ns)

    def on_kill(self, listener: Callable[[int], None]) -> None:
        self._kill_listeners.append(listener)

    def risk_event(self, strategy_id: str, package_id: str, reason: str, now_ns: int) -> None:
        """Something the books cannot place (an overfill, a conflicting fill, a fill of an unknown order).

        Never a log line alone: the strategy's entries stop (disabled until a person enables it again, an
        authorized action) and the event is journaled as an alert with the package to review.
        """
        self.store.set_strategy_enabled(strategy_id, False, by="risk-event", reason=reason, ts_ns=now_ns)
        self.journal.append("alert", ts_ns=now_ns, strategy=strategy_id, package=package_id, reason=reason)

    def close(self) -> None:
        self.store.close()
        self.journal.close()
