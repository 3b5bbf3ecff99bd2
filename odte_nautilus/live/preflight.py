"""``odte preflight``: seed 003's pre-flight checklist, item by item, each passed or failed with its reason.

The same guards ``odte live`` runs before it starts (``guards.py``), plus what only a connection can tell: the
account the keys open, its buying power and options level, and today's 0DTE contracts of the underlying. The
broker is asked only after every local guard has passed, so a live URL or a shared key is refused before a
single request leaves the machine.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import requests
from alpaca.common.exceptions import APIError
from alpaca.trading.client import TradingClient
from alpaca.trading.requests import GetOptionContractsRequest

from odte_nautilus.live.guards import (
    GuardCheck,
    account_can_trade,
    broker_mode,
    distinct_keys,
    paper_account,
    paper_url,
    separate_configs,
)
from odte_nautilus.live.settings import LiveSettings, SettingsError, load_settings
from odte_nautilus.risk.policy import PolicyError, load_policy

# What asking the broker can end in: a refusal, no answer, an answer that is not Alpaca's. Each is a failed item.
BROKER_FAILURES = (APIError, requests.RequestException, ValueError, KeyError, TypeError)


@dataclass(frozen=True)
class Credentials:
    key: str
    secret: str
    live_key: str | None

    @classmethod
    def from_env(cls, settings: LiveSettings, env: Mapping[str, str]) -> Credentials:
        alpaca = settings.alpaca
        return cls(env.get(alpaca.key_env, ""), env.get(alpaca.secret_env, ""), env.get(alpaca.live_key_env) or None)


def local_checks(
    config_path: Path, settings: LiveSettings, env: Mapping[str, str], *, simulator: bool
) -> list[GuardCheck]:
    """Everything decidable without a connection: environment, files, URL, keys, the risk profile, logs."""
    credentials = Credentials.from_env(settings, env)
    alpaca = settings.alpaca
    return [
        *config_checks(config_path, settings, env),
        present("api_key", alpaca.key_env, credentials.key),
        present("secret_key", alpaca.secret_env, credentials.secret),
        paper_url(alpaca.base_url, simulator=simulator),
        _named("paper_stream_url", paper_url(alpaca.trade_stream_url, simulator=simulator)),
        distinct_keys(credentials.key, credentials.live_key),
        *limit_checks(settings),
    ]


def config_checks(config_path: Path, settings: LiveSettings, env: Mapping[str, str]) -> list[GuardCheck]:
    """Every broker's first items: BROKER_MODE, and a paper config kept apart from the live one."""
    return [
        broker_mode(env),
        GuardCheck.ok("config_mode", f"{config_path} is a paper config")
        if settings.mode == "paper"
        else GuardCheck.fail("config_mode", f"{config_path} says mode: {settings.mode}; the node runs paper only"),
        separate_configs(config_path, settings.live_config),
    ]


def limit_checks(settings: LiveSettings) -> list[GuardCheck]:
    """Every broker's last local items: the risk profile's limits and the paper log."""
    return [*_risk_checks(settings.risk_profile), _log_file(settings.logs_dir)]


def broker_checks(client: TradingClient, settings: LiveSettings, underlying: str) -> list[GuardCheck]:
    """What the broker says: the account is a paper one that can trade options, and today lists 0DTE contracts."""
    try:
        account: Any = client.get_account()
        clock: Any = client.get_clock()
    except BROKER_FAILURES as exc:
        return [GuardCheck.fail("account_reachable", f"cannot read the account: {exc}")]
    checks = [
        GuardCheck.ok("account_reachable", "the keys open an account"),
        paper_account(account.get("account_number")),
        account_can_trade(account),
        _buying_power(account),
    ]
    today = datetime.fromisoformat(str(clock["timestamp"]).replace("Z", "+00:00")).date()
    try:
        listed: Any = client.get_option_contracts(
            GetOptionContractsRequest(underlying_symbols=[underlying], expiration_date=today, limit=10)
        )
        count = len(listed.get("option_contracts") or [])
    except BROKER_FAILURES as exc:
        return [*checks, GuardCheck.fail("0dte_contracts", f"cannot list {underlying} contracts: {exc}")]
    checks.append(
        GuardCheck.ok("0dte_contracts", f"{underlying} lists contracts expiring {today}")
        if count
        else GuardCheck.fail("0dte_contracts", f"{underlying} lists no contracts expiring {today}")
    )
    return checks


def run_preflight(
    config_path: Path,
    env: Mapping[str, str],
    *,
    simulator: bool,
    underlying: str | None = None,
    base_url: str | None = None,
    client_factory: Callable[[str, str, str], TradingClient] | None = None,
) -> list[GuardCheck]:
    """Every item of the checklist; the broker is asked only when every local item passed."""
    try:
        settings = load_settings(config_path)
    except SettingsError as exc:
        return [GuardCheck.fail("config", str(exc))]
    if base_url is not None:  # the simulator's loopback URLs replace the config's hosts
        settings = settings.model_copy(
            update={"alpaca": settings.alpaca.model_copy(update={"base_url": base_url, "trade_stream_url": base_url})}
        )
    checks = local_checks(config_path, settings, env, simulator=simulator)
    if not all(c.passed for c in checks):
        return [*checks, GuardCheck.fail("broker", "not asked: a local guard failed, so nothing was sent")]
    credentials = Credentials.from_env(settings, env)
    factory = client_factory or paper_client
    client = factory(credentials.key, credentials.secret, settings.alpaca.base_url)
    return [*checks, *broker_checks(client, settings, underlying or settings.underlying)]


def paper_client(key: str, secret: str, base_url: str) -> TradingClient:
    client = TradingClient(key, secret, paper=True, raw_data=True, url_override=base_url)
    client._retry = 0  # preflight asks once: a throttled broker is a failed item, not a nine-second wait
    return client


def present(name: str, variable: str, value: str) -> GuardCheck:
    """A required environment variable is set."""
    if not value:
        return GuardCheck.fail(name, f"{variable} is not set (in the environment or .env.local)")
    return GuardCheck.ok(name, f"{variable} is set")


def _risk_checks(profile: str) -> list[GuardCheck]:
    try:
        policy = load_policy(profile)
    except PolicyError as exc:
        return [GuardCheck.fail("risk_profile", str(exc))]
    limits = policy.global_limits
    checks = [
        GuardCheck.ok("risk_profile", f"{policy.profile} requires paper")
        if policy.require_paper
        else GuardCheck.fail("risk_profile", f"{policy.profile} does not set require_paper"),
        GuardCheck.ok("daily_loss_limits", f"max daily loss ${limits.max_daily_loss:,.0f}, per strategy as listed")
        if limits is not None and all(s.max_daily_loss for s in policy.strategies.values())
        else GuardCheck.fail("daily_loss_limits", f"{policy.profile}: no dollar daily loss limit for each strategy"),
        GuardCheck.ok("position_size_limits", "every strategy has max_contracts")
        if policy.strategies and all(s.max_contracts for s in policy.strategies.values())
        else GuardCheck.fail("position_size_limits", f"{policy.profile} lists no per-strategy size limits"),
        GuardCheck.ok("circuit_breakers", "enabled")
        if policy.breakers is not None
        else GuardCheck.fail("circuit_breakers", f"{policy.profile} has no breakers section"),
    ]
    return checks


def _log_file(logs_dir: Path) -> GuardCheck:
    path = logs_dir / "paper_trading.log"
    try:
        logs_dir.mkdir(parents=True, exist_ok=True)
        path.touch()
    except OSError as exc:
        return GuardCheck.fail("paper_log", f"cannot create {path}: {exc}")
    return GuardCheck.ok("paper_log", f"{path} is writable")


def _buying_power(account: Mapping[str, Any]) -> GuardCheck:
    power = float(account.get("options_buying_power") or account.get("buying_power") or 0)
    if power <= 0:
        return GuardCheck.fail("buying_power", "the account has no options buying power")
    return GuardCheck.ok("buying_power", f"options buying power ${power:,.2f}")


def _named(name: str, check: GuardCheck) -> GuardCheck:
    return GuardCheck(name, check.passed, check.reason)
