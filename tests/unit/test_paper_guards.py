"""Seed 003's paper guards: each refuses with its reason, and preflight sends nothing once a local guard failed."""

from __future__ import annotations

from pathlib import Path

import pytest
from alpaca.trading.client import TradingClient

from odte_nautilus.live.guards import (
    GuardCheck,
    GuardFailed,
    PaperWatch,
    account_can_trade,
    broker_mode,
    distinct_keys,
    paper_account,
    paper_url,
    require,
    separate_configs,
)
from odte_nautilus.live.preflight import run_preflight
from odte_nautilus.live.settings import PAPER_CONFIG, SettingsError, environment, load_settings, read_env_file

LIVE_CONFIG = PAPER_CONFIG.parent / "live.yaml"
PAPER_ENV = {"ALPACA_PAPER_API_KEY": "PKTEST", "ALPACA_PAPER_SECRET_KEY": "s3cret"}
ACTIVE = {"status": "ACTIVE", "options_trading_level": "3", "trading_blocked": False, "account_blocked": False}


def test_broker_mode_defaults_to_paper_and_refuses_anything_else():
    assert broker_mode({}).passed
    assert broker_mode({"BROKER_MODE": "PAPER"}).passed
    for mode in ("LIVE", "paper", ""):
        check = broker_mode({"BROKER_MODE": mode})
        assert not check.passed and "must be 'PAPER'" in check.reason


def test_only_the_paper_host_or_a_declared_simulator_on_loopback_is_a_paper_url():
    assert paper_url("https://paper-api.alpaca.markets", simulator=False).passed
    assert paper_url("http://127.0.0.1:8123", simulator=True).passed
    assert not paper_url("https://api.alpaca.markets", simulator=False).passed
    assert not paper_url("https://api.alpaca.markets", simulator=True).passed  # the flag opens loopback only
    undeclared = paper_url("http://127.0.0.1:8123", simulator=False)
    assert not undeclared.passed and "does not declare the simulator" in undeclared.reason
    assert not paper_url("https://paper-api.alpaca.markets.evil.example", simulator=False).passed


def test_a_live_account_number_is_refused():
    assert paper_account("PA0SIM0001").passed
    for number in ("123456789", "LIVE-PA", "", None):
        assert not paper_account(number).passed


def test_an_account_that_cannot_trade_multi_leg_options_is_refused_with_every_reason():
    assert account_can_trade(ACTIVE).passed
    check = account_can_trade({**ACTIVE, "options_trading_level": "2", "trading_blocked": True})
    assert not check.passed
    assert "options_trading_level is 2" in check.reason and "trading_blocked" in check.reason
    assert not account_can_trade({**ACTIVE, "status": "ACCOUNT_CLOSED"}).passed


def test_shared_paper_and_live_keys_are_refused():
    assert distinct_keys("PKA", "AKB").passed
    assert distinct_keys("PKA", None).passed
    assert not distinct_keys("PKA", "PKA").passed
    assert not distinct_keys("", None).passed


def test_the_paper_config_must_not_be_the_live_one():
    assert separate_configs(PAPER_CONFIG, LIVE_CONFIG).passed
    assert not separate_configs(LIVE_CONFIG, LIVE_CONFIG).passed
    assert not separate_configs(LIVE_CONFIG, None).passed


def test_require_names_every_failed_guard():
    with pytest.raises(GuardFailed) as caught:
        require([broker_mode({"BROKER_MODE": "LIVE"}), paper_account("123"), distinct_keys("K", "L")])
    assert [c.name for c in caught.value.failed] == ["broker_mode", "paper_account"]


def test_the_watch_stops_new_orders_at_the_first_failure_and_never_turns_them_back_on():
    failures: list[list[GuardCheck]] = []
    watch = PaperWatch(simulator=False, on_failure=failures.append)
    assert watch.observe("PA1", "https://paper-api.alpaca.markets") == []
    assert watch.observe("991", "https://paper-api.alpaca.markets")  # the account changed under the node
    assert watch.observe("PA1", "https://api.alpaca.markets")  # then the URL was swapped
    assert len(failures) == 1 and failures[0][0].name == "paper_account"
    assert watch.failed  # still failed: only a manual reset resumes


def test_the_env_file_is_read_and_the_environment_wins(tmp_path: Path):
    env_file = tmp_path / ".env.local"
    env_file.write_text("# paper keys\nALPACA_PAPER_API_KEY='PKFILE'\nexport ALPACA_PAPER_SECRET_KEY=abc\n\n")
    assert read_env_file(env_file) == {"ALPACA_PAPER_API_KEY": "PKFILE", "ALPACA_PAPER_SECRET_KEY": "abc"}
    assert environment(env_file, {"ALPACA_PAPER_API_KEY": "PKENV"})["ALPACA_PAPER_API_KEY"] == "PKENV"
    env_file.write_text("not a pair\n")
    with pytest.raises(SettingsError, match="line 1"):
        read_env_file(env_file)


def test_the_shipped_configs_are_paper_and_live_apart():
    assert load_settings(PAPER_CONFIG).mode == "paper"
    assert load_settings(LIVE_CONFIG).mode == "live"


def _preflight(config: Path = PAPER_CONFIG, env: dict | None = None, **kw):
    asked: list[tuple[str, ...]] = []

    def client(*args: str) -> TradingClient:
        asked.append(args)
        raise AssertionError("preflight asked the broker after a local guard failed")

    checks = run_preflight(config, PAPER_ENV if env is None else env, simulator=False, client_factory=client, **kw)
    return {c.name: c for c in checks}, asked


@pytest.mark.parametrize(
    ("env", "config", "failed"),
    [
        ({**PAPER_ENV, "BROKER_MODE": "LIVE"}, PAPER_CONFIG, "broker_mode"),
        ({**PAPER_ENV, "ALPACA_LIVE_API_KEY": "PKTEST"}, PAPER_CONFIG, "distinct_keys"),
        ({"ALPACA_PAPER_SECRET_KEY": "s"}, PAPER_CONFIG, "api_key"),
        (PAPER_ENV, LIVE_CONFIG, "config_mode"),
    ],
)
def test_preflight_fails_the_guard_with_its_reason_and_never_asks_the_broker(
    env, config, failed, tmp_path, monkeypatch
):
    monkeypatch.chdir(tmp_path)  # the paper log is created under ./logs
    checks, asked = _preflight(config, env)
    assert not checks[failed].passed
    assert not checks["broker"].passed and "nothing was sent" in checks["broker"].reason
    assert asked == []


def test_preflight_refuses_a_live_url_before_asking(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    checks, asked = _preflight(base_url="https://api.alpaca.markets")
    assert not checks["paper_url"].passed and asked == []
