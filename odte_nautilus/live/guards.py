"""Seed 003's paper-only guards: each one refuses before anything is sent, and says why.

A guard is a small function from what the node can observe (the environment, the config files, the URL, the
keys, the account the broker reports) to a ``GuardCheck``: passed or failed, with the reason a person can act
on. ``odte preflight`` prints them one by one; ``odte live`` runs the same list and starts nothing if one fails;
``PaperWatch`` re-runs the account guards while the node runs and, at the first failure, tells the risk book the
account is no longer paper, so the kernel's ``paper_account`` rule refuses every new order at once (the
kernel's own ``require_paper`` check stays the last line).

What makes an Alpaca account paper (../shared/reference/brokers.md A7): the host (``paper-api``) is
authoritative, the ``PA`` account number and distinct keys are conventions we hold on top of it. The project's
simulator is allowed only on loopback and only when the run declares it (``--broker alpaca-sim``).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

from odte_nautilus.adapters.alpaca.config import LOOPBACK_HOSTS, PAPER_HOSTS

BROKER_MODE_VAR = "BROKER_MODE"
PAPER_MODE = "PAPER"
PAPER_ACCOUNT_PREFIX = "PA"
MIN_OPTIONS_LEVEL = 3  # Alpaca: level 3 trades multi-leg (mleg) orders


@dataclass(frozen=True, slots=True)
class GuardCheck:
    name: str
    passed: bool
    reason: str

    @classmethod
    def ok(cls, name: str, reason: str) -> GuardCheck:
        return cls(name, True, reason)

    @classmethod
    def fail(cls, name: str, reason: str) -> GuardCheck:
        return cls(name, False, reason)


class GuardFailed(RuntimeError):
    """A paper guard refused: nothing was sent. The message lists every failed guard with its reason."""

    def __init__(self, failed: list[GuardCheck]) -> None:
        self.failed = failed
        super().__init__("paper guards refused: " + "; ".join(f"{c.name}: {c.reason}" for c in failed))


def broker_mode(env: Mapping[str, str] = os.environ) -> GuardCheck:
    """Seed 003: the broker mode comes from the environment, default PAPER, and anything else refuses."""
    mode = env.get(BROKER_MODE_VAR, PAPER_MODE)
    if mode != PAPER_MODE:
        return GuardCheck.fail("broker_mode", f"{BROKER_MODE_VAR}={mode!r}; it must be {PAPER_MODE!r} (or unset)")
    return GuardCheck.ok("broker_mode", f"{BROKER_MODE_VAR}={mode}")


def paper_url(url: str, *, simulator: bool) -> GuardCheck:
    """The trading URL is the paper host, or loopback when the run declares the project's simulator."""
    host = urlparse(url).hostname or ""
    if host in PAPER_HOSTS:
        return GuardCheck.ok("paper_url", f"{url} is Alpaca's paper host")
    if host in LOOPBACK_HOSTS and simulator:
        return GuardCheck.ok("paper_url", f"{url} is the project's simulator on loopback")
    if host in LOOPBACK_HOSTS:
        return GuardCheck.fail("paper_url", f"{url} is loopback but the run does not declare the simulator")
    return GuardCheck.fail("paper_url", f"{url} is not a paper host: only https://paper-api.alpaca.markets is")


def paper_account(account_number: str | None) -> GuardCheck:
    number = account_number or ""
    if not number.startswith(PAPER_ACCOUNT_PREFIX):
        return GuardCheck.fail(
            "paper_account", f"account {number or '(none)'} is not a paper account (paper accounts start PA)"
        )
    return GuardCheck.ok("paper_account", f"account {number} is a paper account")


def account_can_trade(account: Mapping[str, object]) -> GuardCheck:
    """Active, not blocked, and allowed multi-leg option orders (options level 3 or more)."""
    problems = []
    if str(account.get("status", "")).upper() != "ACTIVE":
        problems.append(f"status is {account.get('status')!r}, not ACTIVE")
    for flag in ("trading_blocked", "account_blocked"):
        if account.get(flag):
            problems.append(f"{flag} is set")
    level = int(str(account.get("options_trading_level") or 0))
    if level < MIN_OPTIONS_LEVEL:
        problems.append(f"options_trading_level is {level}; multi-leg orders need {MIN_OPTIONS_LEVEL}")
    if problems:
        return GuardCheck.fail("account_can_trade", "; ".join(problems))
    return GuardCheck.ok("account_can_trade", f"active, options level {level}")


def distinct_keys(paper_key: str, live_key: str | None) -> GuardCheck:
    """Seed 003: paper and live keys must differ (a shared key can reach the live account)."""
    if not paper_key:
        return GuardCheck.fail("distinct_keys", "no paper API key is configured")
    if live_key and live_key == paper_key:
        return GuardCheck.fail("distinct_keys", "the paper and live API keys are the same key")
    return GuardCheck.ok("distinct_keys", "the paper key is not the live key" if live_key else "no live key is set")


def separate_configs(paper_config: Path, live_config: Path | None) -> GuardCheck:
    """Seed 003: paper and live settings live in separate files; the node runs the paper one."""
    if live_config is not None and paper_config.resolve() == live_config.resolve():
        return GuardCheck.fail("separate_configs", f"{paper_config} is the live config file")
    if paper_config.name.startswith("live"):
        return GuardCheck.fail("separate_configs", f"{paper_config} is named as a live config; run configs/paper.yaml")
    return GuardCheck.ok("separate_configs", f"{paper_config} (live settings apart, in {live_config or 'none'})")


def require(checks: Iterable[GuardCheck]) -> list[GuardCheck]:
    """All the checks, or ``GuardFailed`` naming every one that failed."""
    checks = list(checks)
    failed = [c for c in checks if not c.passed]
    if failed:
        raise GuardFailed(failed)
    return checks


class PaperWatch:
    """The account guards, re-run while the node runs: a failure stops new orders at once.

    ``observe`` takes what the broker reports now (account number, trading URL); on a failure it calls
    ``on_failure`` with the failed checks (the node sets the risk book's ``AccountMode`` to not-paper, so the
    kernel refuses every new order, and alerts). It never turns trading back on: that is a manual reset.
    """

    def __init__(self, *, simulator: bool, on_failure: Callable[[list[GuardCheck]], None]) -> None:
        self._simulator = simulator
        self._on_failure = on_failure
        self.failed: list[GuardCheck] = []

    def observe(self, account_number: str | None, url: str) -> list[GuardCheck]:
        failed = [c for c in (paper_account(account_number), paper_url(url, simulator=self._simulator)) if not c.passed]
        if failed and not self.failed:
            self.failed = failed
            self._on_failure(failed)
        return failed
