"""The paper guards for Interactive Brokers: what makes an IB session paper, checked before anything is sent.

IB has no paper host: the same gateway software serves paper and live, and only the login decides. So the
guards read what the gateway reports once connected (brokers.md B2): every managed account must be a paper
``DU`` account and the traded account must be among them; a gateway whose list carries any live ``U``
account is refused whole, because an order routed to the wrong account would be real. The port is checked
too (IB Gateway paper 4002, TWS paper 7497), as a convention and not a guarantee: a live gateway can listen on
any port, which is why the account check is the one that decides. The project's TWS simulator is allowed
only on loopback and only when the run declares it (``--broker ib-sim``).
"""

from __future__ import annotations

from collections.abc import Sequence

from odte_nautilus.adapters.alpaca.config import LOOPBACK_HOSTS
from odte_nautilus.live.guards import GuardCheck

IB_PAPER_ACCOUNT_PREFIX = "DU"
IB_PAPER_PORTS = {4002: "IB Gateway paper", 7497: "TWS paper"}
IB_LIVE_PORTS = {4001: "IB Gateway live", 7496: "TWS live"}


def ib_paper_port(host: str, port: int, *, simulator: bool) -> GuardCheck:
    """A paper gateway port, or any port of the project's simulator on loopback when the run declares it."""
    if simulator:
        if host in LOOPBACK_HOSTS:
            return GuardCheck.ok("paper_port", f"{host}:{port} is the project's TWS simulator on loopback")
        return GuardCheck.fail("paper_port", f"the TWS simulator runs on loopback only, not on {host}")
    if port in IB_LIVE_PORTS:
        return GuardCheck.fail("paper_port", f"port {port} is the {IB_LIVE_PORTS[port]} port")
    if port not in IB_PAPER_PORTS:
        known = ", ".join(f"{p} ({name})" for p, name in IB_PAPER_PORTS.items())
        return GuardCheck.fail("paper_port", f"port {port} is not a paper port: {known}")
    return GuardCheck.ok("paper_port", f"port {port} is the {IB_PAPER_PORTS[port]} port")


def ib_paper_accounts(managed: Sequence[str], account: str | None) -> GuardCheck:
    """Every account the gateway manages is a paper ``DU`` account, and the traded one is among them."""
    if not managed:
        return GuardCheck.fail("paper_account", "the gateway reported no managed accounts")
    live = [a for a in managed if not a.startswith(IB_PAPER_ACCOUNT_PREFIX)]
    if live:
        return GuardCheck.fail(
            "paper_account",
            f"the gateway manages {', '.join(live)}, not a paper account (paper accounts start "
            f"{IB_PAPER_ACCOUNT_PREFIX}); a gateway logged in to a live account is refused whole",
        )
    if not account:
        return GuardCheck.fail("paper_account", "no account is configured to trade (set TWS_ACCOUNT)")
    if account not in managed:
        return GuardCheck.fail("paper_account", f"account {account} is not one the gateway manages: {list(managed)}")
    return GuardCheck.ok("paper_account", f"account {account} is a paper account; the gateway manages only paper")
