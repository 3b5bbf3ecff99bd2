"""The IB paper guards refuse a live gateway by its accounts, whatever its port (brokers.md B2)."""

from __future__ import annotations

import pytest

from odte_nautilus.live.ib_guards import ib_paper_accounts, ib_paper_port


@pytest.mark.parametrize(
    ("managed", "account", "passed"),
    [
        (["DU1234567"], "DU1234567", True),
        (["DU1234567", "DU7654321"], "DU7654321", True),
        (["U1234567"], "U1234567", False),  # a live login
        (["DU1234567", "U7654321"], "DU1234567", False),  # one live account among paper ones refuses it all
        (["DU1234567"], "DU0000001", False),  # not an account of this gateway
        (["DU1234567"], None, False),
        ([], "DU1234567", False),
    ],
)
def test_every_managed_account_must_be_paper_and_the_traded_one_among_them(managed, account, passed):
    check = ib_paper_accounts(managed, account)
    assert check.passed is passed, check.reason


@pytest.mark.parametrize(
    ("host", "port", "simulator", "passed"),
    [
        ("127.0.0.1", 4002, False, True),
        ("127.0.0.1", 7497, False, True),
        ("127.0.0.1", 4001, False, False),  # IB Gateway live
        ("127.0.0.1", 7496, False, False),  # TWS live
        ("127.0.0.1", 5555, False, False),
        ("127.0.0.1", 5555, True, True),  # the simulator's ephemeral port
        ("10.0.0.5", 4002, True, False),  # the simulator is loopback only
    ],
)
def test_the_port_is_a_paper_port_or_the_declared_simulator_on_loopback(host, port, simulator, passed):
    check = ib_paper_port(host, port, simulator=simulator)
    assert check.passed is passed, check.reason
