"""The independent invariant audit: replays the engine's own leg fills after every backtest.

The kernel decides from its view of the world; this audit checks what actually happened in the account,
from ``fills.csv`` and ``positions.csv`` alone, so a bug in the kernel, the state machine or the gate
cannot also hide itself (issue 4: "the run fails loudly if anything is violated"). Seed 000: "an
invariant that lives in a comment is a wish" -- here every invariant is a check over real fills.

An *instant* is one ``ts_event``: the engine fills a combo leg by leg at the same timestamp, so an iron
butterfly whose short body fills before its wings is never naked in the account. Holdings are evaluated
after all fills of an instant. Holdings are the account's: net contracts per instrument across all
strategies, as a broker nets them.

The checks, each a rule name in the result:

- ``no_naked_short``: per (underlying, expiry, right), contracts held long >= contracts held short.
- ``max_open_packages`` / ``max_open_packages_per_symbol`` / ``one_position_only``: when a package
  becomes live (its first entry fill; it stays live until its own holdings are back to 0), the live
  packages in total and of its strategy and symbol are within the profile's limits.
- ``entry_after_flatten``: no entry fill at or after the day's flatten time (close - 15 min). A lock is
  recorded at the instant of the fill that caused it, so ``entry_after_lock`` flags entry fills strictly
  after the lock. ``entry_without_session``: an entry on a trading date the rules know no flatten time for.
- ``forbid_add_to_loser``: the audit has no marks, so "a loser" is approximated by the outcome: a new
  package of a strategy and symbol is flagged if another live package of the same strategy and symbol,
  opened at an earlier instant, ended with a negative ``realized_pnl`` in ``positions.csv``. This errs on
  the side of safety: an add made while the earlier package was still winning is flagged too. Later
  entry fills into an already-live package are the rest of its entry order (a package enters only from
  FLAT, design §8), not an add.
- ``forbid_reverse_without_flat``: no single package's fills within one instant flip its strategy's net
  position in an instrument (long to short or back) without passing through flat. It is a rule of one
  book, as the kernel applies it: two strategies on opposite sides of one contract move the account's net
  through zero when either closes, and that is no reverse. Two packages' orders that fill at the same
  timestamp are two orders, applied one after the other in file order.

After a backtest the fill check (``fill_check.py``) adds its rules to the same result: the fills against the
catalog's quotes and the run's money to the cent.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Protocol

import pandas as pd

from odte_nautilus.reports.frames import prepare_fills, prepare_positions
from odte_nautilus.risk.policy import RiskPolicy, strategy_key
from odte_nautilus.risk.session import SessionWindow, TradingCalendar

NO_NAKED_SHORT = "no_naked_short"
MAX_OPEN_PACKAGES = "max_open_packages"
MAX_OPEN_PACKAGES_PER_SYMBOL = "max_open_packages_per_symbol"
ONE_POSITION_ONLY = "one_position_only"
ENTRY_AFTER_FLATTEN = "entry_after_flatten"
ENTRY_AFTER_LOCK = "entry_after_lock"
ENTRY_WITHOUT_SESSION = "entry_without_session"
FORBID_ADD_TO_LOSER = "forbid_add_to_loser"
FORBID_REVERSE_WITHOUT_FLAT = "forbid_reverse_without_flat"

_LISTED_IN_MESSAGE = 20


@dataclass(frozen=True, slots=True)
class AuditRules:
    """The limits the audit holds the fills to; ``None``/empty means the profile has no such limit.

    ``max_open_packages_per_symbol`` is keyed by the policy's strategy key (``theta_harvester``) or a
    strategy id (``ThetaHarvester-001``); both map to the same key. ``flatten_ns`` and ``lock_ns`` are
    UTC nanoseconds per New York trading date; with ``flatten_ns`` empty the flatten rule is not checked.
    """

    max_open_packages_total: int | None = None
    max_open_packages_per_symbol: Mapping[str, int] = field(default_factory=dict)
    one_position_only: bool = False
    flatten_ns: Mapping[date, int] = field(default_factory=dict)
    lock_ns: Mapping[date, int] = field(default_factory=dict)

    @classmethod
    def from_policy(
        cls, policy: RiskPolicy, sessions: Iterable[SessionWindow], lock_ns: Mapping[date, int] | None = None
    ) -> AuditRules:
        """The rules of a risk profile over the run's sessions (and the day locks the run recorded)."""
        return cls(
            max_open_packages_total=policy.global_limits.max_open_packages if policy.global_limits else None,
            max_open_packages_per_symbol={
                key: limits.max_open_packages_per_symbol for key, limits in policy.strategies.items()
            },
            one_position_only=policy.invariants.one_position_only,
            flatten_ns={s.trading_date: s.flatten_ns for s in sessions},
            lock_ns=dict(lock_ns or {}),
        )

    def total_limit(self) -> tuple[int | None, str]:
        """The binding limit on live packages in total, and the rule it comes from."""
        if self.one_position_only and (self.max_open_packages_total is None or self.max_open_packages_total > 1):
            return 1, ONE_POSITION_ONLY
        return self.max_open_packages_total, MAX_OPEN_PACKAGES

    def symbol_limit(self, strategy_id: str) -> int | None:
        limits = {strategy_key(k): v for k, v in self.max_open_packages_per_symbol.items()}
        return limits.get(strategy_key(strategy_id))


@dataclass(frozen=True, slots=True)
class Violation:
    rule: str
    ts: str  # the instant, ISO-8601 UTC
    detail: str

    def to_dict(self) -> dict:
        return {"rule": self.rule, "ts": self.ts, "detail": self.detail}


class Findings(Protocol):
    checked: dict[str, int]
    violations: list[Violation]


@dataclass(frozen=True, slots=True)
class AuditResult:
    ok: bool
    checked: dict[str, int]
    violations: tuple[Violation, ...] = ()

    def with_findings(self, other: Findings) -> AuditResult:
        """This result with another check's counts and violations (the fill check) added."""
        violations = (*self.violations, *other.violations)
        return AuditResult(not violations, {**self.checked, **other.checked}, violations)

    def to_dict(self) -> dict:
        return {
            "ok": self.ok,
            "checked": dict(self.checked),
            "violations": [v.to_dict() for v in self.violations],
        }


class AuditFailed(Exception):
    """The backtest broke an invariant: raised after the run folder is written, so the evidence stays."""

    def __init__(self, result: AuditResult, where: str | Path | None = None) -> None:
        self.result = result
        place = f" in {where}" if where is not None else ""
        lines = [
            f"invariant audit failed{place}: {len(result.violations)} violation(s)"
            f" over {result.checked.get('fills', 0)} fills"
        ]
        lines += [f"  - {v.rule} at {v.ts}: {v.detail}" for v in result.violations[:_LISTED_IN_MESSAGE]]
        hidden = len(result.violations) - _LISTED_IN_MESSAGE
        if hidden > 0:
            lines.append(f"  ... and {hidden} more (all are listed under 'audit' in summary.json)")
        super().__init__("\n".join(lines))


def audit_run(fills: pd.DataFrame, positions: pd.DataFrame, rules: AuditRules) -> AuditResult:
    """Replay the fills instant by instant and check every invariant; never raises on a violation."""
    frame = prepare_fills(fills)
    packages = prepare_positions(positions)
    losers = frozenset(packages.loc[packages["realized_pnl"] < 0, "package_id"])
    replay = _Replay(rules, losers)
    for ts_ns, instant in frame.groupby("ts_ns", sort=True):
        replay.instant(int(ts_ns), instant)
    checked = {
        "fills": len(frame),
        "instants": replay.instants,
        "packages": len(replay.owner),
        "entry_fills": int((frame["role"] == "entry").sum()),
    }
    return AuditResult(ok=not replay.violations, checked=checked, violations=tuple(replay.violations))


def _iso(ts_ns: int) -> str:
    return pd.Timestamp(ts_ns, tz="UTC").isoformat()


class _Replay:
    """The account rebuilt from fills: net contracts per instrument and each package's own holdings."""

    def __init__(self, rules: AuditRules, losers: frozenset[str]) -> None:
        self.rules = rules
        self.losers = losers
        self.account: dict[str, int] = {}
        self.books: dict[tuple[str, str], int] = {}  # (strategy, instrument) -> contracts
        self.coverage_group: dict[str, tuple[str, str, str]] = {}  # instrument -> (underlying, expiry, right)
        self.group_members: dict[tuple[str, str, str], set[str]] = {}
        self.holdings: dict[str, dict[str, int]] = {}  # package -> instrument -> contracts
        self.owner: dict[str, tuple[str, str]] = {}  # package -> (strategy, underlying)
        self.opened_ns: dict[str, int] = {}  # package -> instant it last became live
        self.live: set[str] = set()
        self.instants = 0
        self.violations: list[Violation] = []

    def instant(self, ts_ns: int, rows: pd.DataFrame) -> None:
        self.instants += 1
        before: dict[str, int] = {}
        entered: list[str] = []
        touched: list[str] = []
        ts = _iso(ts_ns)
        order_before: dict[tuple[str, str], int] = {}  # its strategy's book before the package's fills
        current = None
        for row in rows.itertuples(index=False):
            iid, package = row.instrument_id, row.package_id
            if package != current:
                self._check_reverse(ts, order_before)
                order_before, current = {}, package
            book = (row.strategy_id, iid)
            order_before.setdefault(book, self.books.get(book, 0))
            self.books[book] = self.books.get(book, 0) + row.signed_qty
            before.setdefault(iid, self.account.get(iid, 0))
            self.account[iid] = self.account.get(iid, 0) + row.signed_qty
            group = (row.underlying, row.expiry, row.right)
            self.coverage_group[iid] = group
            self.group_members.setdefault(group, set()).add(iid)
            held = self.holdings.setdefault(package, {})
            held[iid] = held.get(iid, 0) + row.signed_qty
            self.owner.setdefault(package, (row.strategy_id, row.underlying))
            if package not in touched:
                touched.append(package)
            if row.role == "entry" and package not in entered:
                entered.append(package)
        self._check_reverse(ts, order_before)
        opened = self._update_live(ts_ns, touched)
        self._check_naked(ts, {self.coverage_group[iid] for iid in before})
        for package in entered:
            self._check_entry_time(ts_ns, ts, package)
            if package in opened:
                self._check_package_limits(ts, package)
                self._check_add_to_loser(ts_ns, ts, package)

    def _update_live(self, ts_ns: int, touched: list[str]) -> set[str]:
        """Packages that became live at this instant."""
        opened = set()
        for package in touched:
            if any(self.holdings[package].values()):
                if package not in self.live:
                    self.live.add(package)
                    self.opened_ns[package] = ts_ns
                    opened.add(package)
            else:
                self.live.discard(package)
        return opened

    def _flag(self, rule: str, ts: str, detail: str) -> None:
        self.violations.append(Violation(rule, ts, detail))

    def _check_reverse(self, ts: str, before: dict[tuple[str, str], int]) -> None:
        for (strategy, iid), was in before.items():
            now = self.books[strategy, iid]
            if was * now < 0:
                self._flag(
                    FORBID_REVERSE_WITHOUT_FLAT,
                    ts,
                    f"{strategy} {iid}: net position {was:+d} -> {now:+d} by one order, never flat in between",
                )

    def _check_naked(self, ts: str, groups: set[tuple[str, str, str]]) -> None:
        for group in sorted(groups):
            members = sorted(self.group_members[group])
            longs = sum(self.account[iid] for iid in members if self.account[iid] > 0)
            shorts = -sum(self.account[iid] for iid in members if self.account[iid] < 0)
            if shorts > longs:
                underlying, expiry, right = group
                short_legs = ", ".join(f"{iid} {self.account[iid]:+d}" for iid in members if self.account[iid] < 0)
                self._flag(
                    NO_NAKED_SHORT,
                    ts,
                    f"{underlying} {expiry} {right}: {shorts} short vs {longs} long contracts ({short_legs})",
                )

    def _check_entry_time(self, ts_ns: int, ts: str, package: str) -> None:
        day = TradingCalendar.trading_date(ts_ns)
        flatten = self.rules.flatten_ns.get(day)
        if self.rules.flatten_ns and flatten is None:
            self._flag(
                ENTRY_WITHOUT_SESSION, ts, f"entry fill of {package} on {day}, which has no session in the rules"
            )
        elif flatten is not None and ts_ns >= flatten:
            self._flag(
                ENTRY_AFTER_FLATTEN, ts, f"entry fill of {package} at or after the {day} flatten at {_iso(flatten)}"
            )
        lock = self.rules.lock_ns.get(day)
        if lock is not None and ts_ns > lock:
            self._flag(ENTRY_AFTER_LOCK, ts, f"entry fill of {package} after the {day} lock at {_iso(lock)}")

    def _check_package_limits(self, ts: str, package: str) -> None:
        limit, rule = self.rules.total_limit()
        if limit is not None and len(self.live) > limit:
            self._flag(rule, ts, f"{package} opened with {len(self.live)} live packages (limit {limit})")
        strategy, underlying = self.owner[package]
        per_symbol = self.rules.symbol_limit(strategy)
        siblings = [p for p in self.live if self.owner[p] == (strategy, underlying)]
        if per_symbol is not None and len(siblings) > per_symbol:
            self._flag(
                MAX_OPEN_PACKAGES_PER_SYMBOL,
                ts,
                f"{package} opened with {len(siblings)} live {strategy} packages on {underlying} (limit {per_symbol})",
            )

    def _check_add_to_loser(self, ts_ns: int, ts: str, package: str) -> None:
        losers = sorted(
            p
            for p in self.live
            if p != package and p in self.losers and self.owner[p] == self.owner[package] and self.opened_ns[p] < ts_ns
        )
        for loser in losers:
            strategy, underlying = self.owner[package]
            self._flag(
                FORBID_ADD_TO_LOSER,
                ts,
                f"{package} opened while {loser} ({strategy} on {underlying}) was live and ended with a realized loss",
            )
