"""``odte preflight --broker ib``: seed 003's checklist for Interactive Brokers, item by item.

Local items first, shared with Alpaca (``preflight.config_checks``/``limit_checks``) plus IB's own: the account
to trade is configured and the port is a paper port. Then one read-only API connection (its own client id,
so it never collides with a running node or watchdog) asks the gateway what only it can tell: the managed
accounts (every one a paper ``DU`` account, the traded one among them), the account's net liquidation, and
whether SPXW lists contracts expiring today. Nothing is ever sent when a local item failed, and the
connection itself places no order.

The connection uses ib_async in a thread of its own with its own event loop: ib_async binds to the first
loop it meets (brokers.md B1), and the node's loop must stay Nautilus's.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC
from pathlib import Path

import ib_async

from odte_nautilus.live.guards import GuardCheck
from odte_nautilus.live.ib_guards import ib_paper_accounts, ib_paper_port
from odte_nautilus.live.preflight import config_checks, limit_checks, present
from odte_nautilus.live.settings import LiveSettings, SettingsError, load_settings, on_ib
from odte_nautilus.risk.session import NEW_YORK

SPX_CON_ID = 416904  # Index('SPX', 'CBOE'), brokers.md B3
CONNECT_TIMEOUT_SECONDS = 10.0


@dataclass(frozen=True)
class Gateway:
    """Where the API is and who asks: the preflight's own client id, never the node's or the watchdog's."""

    host: str
    port: int
    client_id: int

    @classmethod
    def preflight_of(cls, settings: LiveSettings, port: int | None = None) -> Gateway:
        ib = settings.ib
        return cls(ib.host, port or ib.port, ib.preflight_client_id)


def ib_local_checks(
    config_path: Path, settings: LiveSettings, env: Mapping[str, str], gateway: Gateway, *, simulator: bool
) -> list[GuardCheck]:
    """Everything decidable without a connection."""
    account_env = settings.ib.account_env
    return [
        *config_checks(config_path, settings, env),
        present("ib_account", account_env, env.get(account_env, "")),
        ib_paper_port(gateway.host, gateway.port, simulator=simulator),
        *limit_checks(settings),
    ]


def ib_broker_checks(gateway: Gateway, account: str) -> list[GuardCheck]:
    """What the gateway says, read over one read-only connection."""
    answer: list[list[GuardCheck]] = []
    worker = threading.Thread(target=lambda: answer.append(asyncio.run(_ask(gateway, account))), daemon=True)
    worker.start()
    worker.join(CONNECT_TIMEOUT_SECONDS * 4)
    if not answer:
        return [GuardCheck.fail("gateway_reachable", f"{gateway.host}:{gateway.port} did not answer in time")]
    return answer[0]


async def _ask(gateway: Gateway, account: str) -> list[GuardCheck]:
    ib = ib_async.IB()
    try:
        await ib.connectAsync(
            gateway.host, gateway.port, clientId=gateway.client_id, timeout=CONNECT_TIMEOUT_SECONDS, readonly=True
        )
    except (OSError, TimeoutError, ConnectionError) as exc:
        return [GuardCheck.fail("gateway_reachable", f"cannot connect to {gateway.host}:{gateway.port}: {exc!r}")]
    try:
        version = ib.client.serverVersion()
        checks = [GuardCheck.ok("gateway_reachable", f"{gateway.host}:{gateway.port} answers (API v{version})")]
        accounts = ib_paper_accounts(ib.managedAccounts(), account)
        checks.append(accounts)
        if not accounts.passed:
            return checks  # a live login: ask it nothing more
        checks.append(await _net_liquidation(ib, account))
        checks.append(await _todays_spxw(ib))
        return checks
    finally:
        ib.disconnect()


async def _net_liquidation(ib: ib_async.IB, account: str) -> GuardCheck:
    values = await ib.accountSummaryAsync(account)
    net = next((v for v in values if v.tag == "NetLiquidation" and v.account == account), None)
    if net is None or float(net.value or 0) <= 0:
        return GuardCheck.fail("net_liquidation", f"account {account} reports no net liquidation value")
    return GuardCheck.ok("net_liquidation", f"net liquidation {float(net.value):,.2f} {net.currency}")


async def _todays_spxw(ib: ib_async.IB) -> GuardCheck:
    now = await ib.reqCurrentTimeAsync()
    today = now.astimezone(NEW_YORK).date() if now.tzinfo else now.replace(tzinfo=UTC).astimezone(NEW_YORK).date()
    chains = await ib.reqSecDefOptParamsAsync("SPX", "", "IND", SPX_CON_ID)
    expiries = {e for chain in chains if chain.tradingClass == "SPXW" for e in chain.expirations}
    if f"{today:%Y%m%d}" not in expiries:
        return GuardCheck.fail("0dte_contracts", f"SPXW lists no contracts expiring {today}")
    return GuardCheck.ok("0dte_contracts", f"SPXW lists contracts expiring {today}")


def run_ib_preflight(
    config_path: Path, env: Mapping[str, str], *, simulator: bool, port: int | None = None
) -> list[GuardCheck]:
    """Every item of the checklist; the gateway is asked only when every local item passed."""
    try:
        settings = on_ib(load_settings(config_path))
    except SettingsError as exc:
        return [GuardCheck.fail("config", str(exc))]
    gateway = Gateway.preflight_of(settings, port)
    checks = ib_local_checks(config_path, settings, env, gateway, simulator=simulator)
    if not all(c.passed for c in checks):
        return [*checks, GuardCheck.fail("broker", "not asked: a local guard failed, so nothing was sent")]
    return [*checks, *ib_broker_checks(gateway, env[settings.ib.account_env])]
