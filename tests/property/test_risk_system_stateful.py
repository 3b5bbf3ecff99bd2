"""The whole pure risk system under random sequences: intents, broker events, restarts and clock jumps.

The risk book (kernel + durable SQLite state + journal) and one ``PackageLedger`` per package are driven
the way a strategy drives them; a simulated broker fills, partially fills, duplicates, cancels and rejects.
Whatever Hypothesis tries, the invariants of seed 000 must hold after every step (design §6-10).
"""

from __future__ import annotations

import itertools
import tempfile
from datetime import date
from pathlib import Path

from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, initialize, invariant, precondition, rule

from odte_nautilus.execution.events import Cancelled, Fill, Rejected
from odte_nautilus.execution.fills import PackageLedger
from odte_nautilus.risk.book import RiskBook
from odte_nautilus.risk.decision import ReasonCode
from odte_nautilus.risk.ladder import LadderStage, StreakStage, ladder_stage, streak_stage
from odte_nautilus.risk.model import ExitKind, Holding, Intent, IntentKind, PackageState
from odte_nautilus.risk.policy import load_policy
from odte_nautilus.risk.time_units import MINUTE_NS
from tests.kit import iron_butterfly, long_strangle, ny_ns, reversed_legs, short_straddle

DAYS = [date(2024, 3, 14), date(2024, 3, 15), date(2024, 3, 18)]
STRATEGIES = ("GammaScalper-001", "ThetaHarvester-001")
SHAPES = {
    "strangle": (lambda: long_strangle(), 3.0),
    "far_strangle": (lambda: long_strangle(5140, 5060), 1.5),
    "fly": (lambda: iron_butterfly(), -12.0),
    "naked_straddle": (lambda: short_straddle(), -20.0),
}
EXIT_KINDS = [k for k in ExitKind if k is not ExitKind.SETTLEMENT]


class RiskSystem(RuleBasedStateMachine):
    packages = Bundle("packages")

    @initialize(profile=st.sampled_from(["single_position_0dte", "multi_strategy_paper"]))
    def start(self, profile: str) -> None:
        shm = Path("/dev/shm")  # thousands of fsyncs: keep them in memory where the machine allows
        self.folder = Path(tempfile.mkdtemp(prefix="odte-prop-", dir=shm if shm.is_dir() else None))
        self.profile = profile
        self.policy = load_policy(profile)
        self.day_index = 0
        self.now = ny_ns(10, 0, day=DAYS[0])
        self.book = self._open_book()
        self.ledgers: dict[str, PackageLedger] = {}
        self.ids = itertools.count(1)
        self.executions = itertools.count(1)

    def _open_book(self) -> RiskBook:
        return RiskBook(self.policy, self.folder / "state.sqlite", self.folder / "journal.jsonl", nav=100_000.0)

    def teardown(self) -> None:
        self.book.close()

    # -- what the account holds, from the ledgers (the broker's truth in this model) -------------------

    def holdings(self) -> dict[str, Holding]:
        out: dict[str, Holding] = {}
        for ledger in self.ledgers.values():
            for leg in ledger.legs:
                cid = leg.contract.instrument_id
                qty = (out[cid].quantity if cid in out else 0) + leg.ratio * ledger.quantity
                out[cid] = Holding(leg.contract, qty)
        return {k: v for k, v in out.items() if v.quantity}

    def _sync(self, ledger: PackageLedger, unrealized: float = 0.0) -> None:
        self.book.track([ledger.view(unrealized)])
        if (
            ledger.state is PackageState.FLAT
            and ledger.orders
            and any(o.filled_qty for o in ledger.orders if not o.is_entry)
        ):
            self.book.record_close(ledger.strategy_id, ledger.realized_pnl, self.now)
            del self.ledgers[ledger.package_id]

    # -- intents ------------------------------------------------------------------------------------------

    @rule(
        target=packages,
        strategy=st.sampled_from(STRATEGIES),
        shape=st.sampled_from(sorted(SHAPES)),
        qty=st.integers(1, 5),
    )
    def entry(self, strategy: str, shape: str, qty: int):
        make_legs, price = SHAPES[shape]
        package_id = f"P-{next(self.ids)}"
        intent = Intent(IntentKind.ENTRY, strategy, "SPX", package_id, make_legs(), qty, price, self.now)
        before = self.book.state(self.now, self.holdings())
        decision = self.book.check(intent, self.book.state(intent.ts_ns, self.holdings()))
        if decision.allowed:
            self._assert_entry_was_allowed_rightly(intent, decision.size, before)
            ledger = PackageLedger.for_entry(intent.resized(decision.size))
            ledger.submit_entry(f"{package_id}-E", decision.size, price)
            self.ledgers[package_id] = ledger
            self.book.record_entry(intent.resized(decision.size))
            self._sync(ledger)
        return package_id

    def _assert_entry_was_allowed_rightly(self, intent: Intent, size: int, before) -> None:
        p = self.policy
        live = before.live_packages()
        assert not before.day_locked, "entry allowed on a locked day"
        assert not before.kill_switch, "entry allowed under the kill switch"
        assert not before.global_breaker, "entry allowed while RISK-OFF"
        assert before.session is not None and before.now_ns < before.session.flatten_ns, (
            "entry allowed after the flatten"
        )
        assert intent.open_risk != float("inf"), "a naked short entry was allowed"
        if p.invariants.one_position_only:
            assert not live, "two packages under one_position_only"
        if p.max_trades_per_day is not None:
            assert before.trades_today < p.max_trades_per_day, "trade count above the cap"
        if p.loss_streak is not None:
            assert streak_stage(before.loss_streak, p.loss_streak) is not StreakStage.STOP, (
                "entry after the streak stop"
            )
        if p.drawdown_ladder is not None:
            stage = ladder_stage(before.day_pnl(), before.nav, p.drawdown_ladder)
            assert stage is not LadderStage.HARD_STOP, "entry after the hard stop"
        for pkg in live:
            if pkg.strategy_id == intent.strategy_id and pkg.symbol == intent.symbol:
                assert pkg.unrealized_pnl >= 0, "added to a loser"
                assert pkg.is_long_premium == intent.is_long_premium, "reversed without flat"
        for leg in intent.legs:
            held = before.holdings.get(leg.contract.instrument_id)
            if held is not None:
                after = held.quantity + leg.ratio * size
                assert after == 0 or (after > 0) == (held.quantity > 0), "a holding reversed without going flat"

    # -- broker events ------------------------------------------------------------------------------------

    def _ledger(self, package_id: str) -> PackageLedger | None:
        return self.ledgers.get(package_id)

    @rule(package_id=packages, share=st.sampled_from([1.0, 0.5]), duplicate=st.booleans())
    def fill(self, package_id: str, share: float, duplicate: bool) -> None:
        ledger = self._ledger(package_id)
        if ledger is None:
            return
        working = [o for o in ledger.orders if o.working]
        if not working:
            return
        order = working[0]
        qty = max(1, int((order.quantity - order.filled_qty) * share))
        price = order.expected_price if order.is_entry else -(ledger.avg_entry_price or 1.0) * 0.5 or 1.0
        event = Fill(order.order_id, f"X-{next(self.executions)}", qty, price or 1.0)
        for _ in range(2 if duplicate else 1):
            ledger.apply(event)
        self._sync(ledger)

    @rule(package_id=packages, from_error=st.booleans(), reject=st.booleans())
    def cancel(self, package_id: str, from_error: bool, reject: bool) -> None:
        ledger = self._ledger(package_id)
        if ledger is None:
            return
        for order in [o for o in ledger.orders if o.working]:
            # A venue rejects an order before anything of it fills; after a fill it can only cancel the rest.
            # Nothing here is swallowed: a LedgerError on a consistent broker event is a wrongful refusal.
            event = (
                Rejected(order.order_id, "venue")
                if reject and not order.filled_qty
                else Cancelled(order.order_id, order.filled_qty, order.avg_price or 0.0, from_error)
            )
            ledger.apply(event)
        self._sync(ledger)

    @rule(package_id=packages, kind=st.sampled_from(EXIT_KINDS))
    def exit(self, package_id: str, kind: ExitKind) -> None:
        ledger = self._ledger(package_id)
        if ledger is None or not ledger.can_exit():
            return
        qty = max(1, ledger.quantity // 2) if kind is ExitKind.TAKE_PROFIT_PARTIAL else ledger.quantity
        price = -(ledger.avg_entry_price or 1.0)
        intent = Intent(
            IntentKind.EXIT,
            ledger.strategy_id,
            ledger.symbol,
            package_id,
            reversed_legs(ledger.legs),
            qty,
            price,
            self.now,
            kind,
        )
        decision = self.book.check(intent, self.book.state(intent.ts_ns, self.holdings()))
        assert decision.allowed, f"a package exit was refused: {decision.code} {decision.reason}"
        ledger.submit_exit(f"{package_id}-X{next(self.ids)}", kind, qty)
        self._sync(ledger)

    @rule(package_id=packages, pnl=st.floats(-3_000, 1_000))
    def mark(self, package_id: str, pnl: float) -> None:
        ledger = self._ledger(package_id)
        if ledger is not None and ledger.quantity:
            self.book.track([ledger.view(pnl)])
            self.book.enforce(self.now)

    # -- controls, time and restarts ----------------------------------------------------------------------

    @rule()
    def kill_switch(self) -> None:
        self.book.kill(by="property", reason="random", now_ns=self.now)

    @rule(minutes=st.integers(1, 240))
    def clock(self, minutes: int) -> None:
        """Time passes; crossing the flatten runs the EOD lock as the strategies do."""
        session = self.book.calendar.session_window(DAYS[self.day_index])
        assert session is not None  # DAYS are trading days
        before = self.now
        self.now += minutes * MINUTE_NS
        if before < session.flatten_ns <= self.now:
            self.book.lock_for_eod(session.flatten_ns)

    @precondition(lambda self: self.day_index < len(DAYS) - 1)
    @rule()
    def next_day(self) -> None:
        session = self.book.calendar.session_window(DAYS[self.day_index])
        assert session is not None  # DAYS are trading days
        self.book.lock_for_eod(session.flatten_ns)
        self.day_index += 1
        self.now = ny_ns(9, 45, day=DAYS[self.day_index])

    @rule()
    def restart(self) -> None:
        """A crash and a restart: the durable state comes back; the live packages are re-reported."""
        self.book.close()
        self.book = self._open_book()
        self.book.track([ledger.view() for ledger in self.ledgers.values()])

    # -- invariants ---------------------------------------------------------------------------------------

    @invariant()
    def no_naked_short_at_any_instant(self) -> None:
        if not hasattr(self, "ledgers"):
            return
        groups: dict[tuple, list[int]] = {}
        for holding in self.holdings().values():
            c = holding.contract
            long_short = groups.setdefault((c.underlying, c.expiry_ns, c.right), [0, 0])
            long_short[0 if holding.quantity > 0 else 1] += abs(holding.quantity)
        for key, (longs, shorts) in groups.items():
            assert longs >= shorts, f"naked short in {key}: {longs} long vs {shorts} short"

    @invariant()
    def locked_day_stays_locked(self) -> None:
        if not hasattr(self, "book"):
            return
        state = self.book.state(self.now, self.holdings())
        if state.day_locked:
            probe = Intent(IntentKind.ENTRY, STRATEGIES[0], "SPX", "probe", long_strangle(), 1, 3.0, self.now)
            assert self.book.kernel.check(probe, state).code is not ReasonCode.ALLOWED


TestRiskSystem = RiskSystem.TestCase
