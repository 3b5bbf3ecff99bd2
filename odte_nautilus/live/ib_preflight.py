"""``odte preflight --broker ib``: seed 003's checklist for Interactive Brokers, item by item.

Local items first, shared with Alpaca (``preflight.config_checks``/``limit_checks``) plus IB's own: the account
to trade is configured and the port is a paper port. Then one read-only API connection (its own client id,
so it never collides with a running node or watchdog) asks the gateway what only it can tell: the managed
accounts (every one a paper ``DU`` account, the traded one among them), the account's net liquidation, and
whether SPXW lists contracts expiring today. Nothing is ever sent when a local item failed, and the
connection itself places no order.

The connection is ib_async's, in a process of its own (``python -m odte_nautilus.live.ib_preflight``, its
checks printed as JSON): ib_async binds to event loops it meets and leaves the process's loop state changed
after it (brokers.md B1; a connection made in a thread left the main thread with no current loop), and the
process that asks must go on to run Nautilus's node, or other ib_async clients, on its own loops.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import subprocess
import sys
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
PROBE_TIMEOUT_SECONDS = 60.0  # the probe process: its start-up, the connection and three questions


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
    """What the gateway says, read over one read-only connection made by a process of its own."""
    args = [gateway.host, str(gateway.port), str(gateway.client_id), account]
    try:
        done = subprocess.run(
            [sys.executable, "-m", __name__, *args], capture_output=True, text=True, timeout=PROBE_TIMEOUT_SECONDS
        )
    except subprocess.TimeoutExpired:
        return [GuardCheck.fail("gateway_reachable", f"{gateway.host}:{gateway.port} did not answer in time")]
    try:
        return [GuardCheck(**check) for check in json.loads(done.stdout)]
    except (json.JSONDecodeError, TypeError):
        return [GuardCheck.fail("gateway_reachable", f"the gateway probe failed: {done.stderr.strip()[-500:]}")]


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


def _probe(host: str, port: str, client_id: str, account: str) -> None:
    """The child's side: ask the gateway, print the checks as JSON."""
    checks = asyncio.run(_ask(Gateway(host, int(port), int(client_id)), account))
    print(json.dumps([dataclasses.asdict(c) for c in checks]))


if __name__ == "__main__":
    _probe(*sys.argv[1:5])
