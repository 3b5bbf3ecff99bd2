"""Push alerts (seed 003 "Monitoring"): a receiver on loopback must hear of a breaker, a rejection, a stop.

The receiver is a real HTTP server on 127.0.0.1; the alerts reach it through apprise's ``json://`` target,
as they would reach ntfy, Slack or a webhook. It can answer 500 (a failing target: retried, then logged)
or answer late (a slow target: the caller, the node's event loop, must not wait for it).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace

import pytest
from nautilus_trader.common.component import MessageBus, TestClock
from nautilus_trader.model.identifiers import TraderId
from nautilus_trader.test_kit.stubs.events import TestEventStubs
from nautilus_trader.test_kit.stubs.execution import TestExecStubs

from odte_nautilus.live.alerts import (
    AlertConfigError,
    alert_of,
    alert_urls,
    attach_alerts,
    build_alerter,
)
from odte_nautilus.live.settings import AlertSettings, LiveSettings, load_settings
from odte_nautilus.risk.book import EOD_LOCK_REASON, RiskBook
from odte_nautilus.risk.journal import AuditJournal, read
from odte_nautilus.risk.policy import load_policy
from tests.kit import ny_ns


class Receiver:
    """An HTTP endpoint on loopback recording every JSON body posted to it."""

    def __init__(self, status: int = 200, delay: float = 0.0) -> None:
        self.status, self.delay = status, delay
        self.bodies: list[dict] = []
        self.hits = 0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                body = self.rfile.read(length)
                receiver.hits += 1
                time.sleep(receiver.delay)
                if receiver.status == 200:
                    receiver.bodies.append(json.loads(body))
                self.send_response(receiver.status)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"json://127.0.0.1:{self.server.server_address[1]}/alerts"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


def _settings(*urls: str, retries: int = 0, backoff: float = 0.01, queue_size: int = 100) -> AlertSettings:
    return AlertSettings(urls=list(urls), retries=retries, retry_backoff_seconds=backoff, queue_size=queue_size)


def _book(tmp_path) -> RiskBook:
    policy = load_policy("multi_strategy_paper")
    return RiskBook(policy, tmp_path / "state.sqlite", tmp_path / "decisions.jsonl", nav=100_000.0)


def _paper(book: RiskBook) -> SimpleNamespace:
    """What ``attach_alerts`` uses of a ``PaperNode``: its book and its kernel's message bus."""
    bus = MessageBus(trader_id=TraderId("ODTE-PAPER"), clock=TestClock())
    return SimpleNamespace(book=book, node=SimpleNamespace(kernel=SimpleNamespace(msgbus=bus)))


def _live_settings(alerts: AlertSettings) -> LiveSettings:
    return load_settings().model_copy(update={"alerts": alerts})


def test_a_breaker_trip_reaches_the_loopback_receiver(tmp_path, receiver):
    book = _book(tmp_path)
    alerter = attach_alerts(_paper(book), _live_settings(_settings(receiver.url)), env={})  # type: ignore[arg-type]
    try:
        book.record_close("ThetaHarvester-001", -1_900.0, ny_ns(11, 0))
        book.record_close("GammaScalper-001", -1_100.0, ny_ns(11, 5))  # -3,000: the global breaker
        assert book.state(ny_ns(11, 6)).global_breaker
        assert alerter.drain(10)
    finally:
        alerter.close()
        book.close()
    titles = [b["title"] for b in receiver.bodies]
    breaker = [b for b in receiver.bodies if "circuit breaker tripped (global)" in b["title"]]
    assert breaker, titles
    assert "RISK-OFF" in breaker[0]["message"] and breaker[0]["type"] == "failure"
    assert any("day 2024-03-15 locked" in t for t in titles), titles  # the daily loss limit locks the day too


def test_a_broker_rejection_is_journaled_and_pushed(tmp_path, receiver):
    book = _book(tmp_path)
    paper = _paper(book)
    alerter = attach_alerts(paper, _live_settings(_settings(receiver.url)), env={})  # type: ignore[arg-type]
    try:
        order = TestExecStubs.limit_order()
        paper.node.kernel.msgbus.publish(topic="events.order.S-001", msg=TestEventStubs.order_accepted(order))
        rejected = TestEventStubs.order_rejected(order)
        paper.node.kernel.msgbus.publish(topic=f"events.order.{rejected.strategy_id}", msg=rejected)
        assert alerter.drain(10)
    finally:
        alerter.close()
        book.close()
    (line,) = [r for r in read(tmp_path / "decisions.jsonl") if r["kind"] == "alert"]  # the accept is no alert
    assert line["about"] == "order_rejected" and line["order"] == order.client_order_id.value
    (body,) = receiver.bodies
    assert "order rejected" in body["title"] and "ORDER_REJECTED" in body["message"]


def test_the_emergency_stop_is_pushed(tmp_path, receiver):
    book = _book(tmp_path)
    alerter = attach_alerts(_paper(book), _live_settings(_settings(receiver.url)), env={})  # type: ignore[arg-type]
    try:
        book.kill(by="curl", reason="the trader pressed stop", now_ns=ny_ns(12, 0))
        assert alerter.drain(10)
    finally:
        alerter.close()
        book.close()
    (body,) = receiver.bodies
    assert "emergency stop by curl" in body["title"] and body["message"] == "the trader pressed stop"


def test_a_failing_target_is_retried_then_logged_with_the_alert(tmp_path, caplog):
    failing = Receiver(status=500)
    book = _book(tmp_path)
    alerter = build_alerter(_settings(failing.url, retries=2), env={})
    book.journal.on_append(alerter.on_journal)
    try:
        with caplog.at_level(logging.WARNING, logger="odte_nautilus.live.alerts"):
            book.kill(by="cli", reason="stop everything", now_ns=ny_ns(12, 0))
            assert alerter.drain(10)
    finally:
        alerter.close()
        book.close()
        failing.close()
    assert failing.hits == 3  # the first attempt and two retries
    assert len(alerter.failed) == 1 and not alerter.sent
    (given_up,) = [r.getMessage() for r in caplog.records if "failed after 3 attempt(s)" in r.getMessage()]
    assert "emergency_stop" in given_up and "stop everything" in given_up  # the alert itself
    assert f"127.0.0.1:{failing.server.server_address[1]}" in given_up  # and the target


def test_a_slow_target_never_blocks_the_caller(tmp_path):
    slow = Receiver(delay=1.0)
    journal = AuditJournal(tmp_path / "decisions.jsonl")
    alerter = build_alerter(_settings(slow.url), env={})
    journal.on_append(alerter.on_journal)
    try:
        started = time.monotonic()
        for i in range(3):
            journal.append("breaker", breaker="strategy", strategy=f"S-{i}", reason="loss")
        assert time.monotonic() - started < 0.2  # three appends, while each push takes a second
        assert alerter.drain(15)
    finally:
        alerter.close()
        journal.close()
        slow.close()
    assert len(slow.bodies) == 3 and len(alerter.sent) == 3


def test_a_dead_target_retrying_never_delays_a_live_one(tmp_path):
    dead, live = Receiver(status=500), Receiver()
    alerter = build_alerter(_settings(dead.url, live.url, retries=3, backoff=1.0), env={})
    try:
        alerter.on_journal({"kind": "breaker", "breaker": "global", "reason": "RISK-OFF", "time": "t"})
        deadline = time.monotonic() + 0.9  # the dead target's first back-off alone is 1 s
        while not live.bodies and time.monotonic() < deadline:
            time.sleep(0.01)
        assert live.bodies, "the live target waited for the dead one's retries"
    finally:
        alerter.close(timeout=0.1)
        dead.close()
        live.close()


def test_a_full_queue_is_logged_never_silent(tmp_path, caplog):
    slow = Receiver(delay=0.5)
    alerter = build_alerter(_settings(slow.url, queue_size=1), env={})
    record = {"kind": "breaker", "breaker": "global", "reason": "RISK-OFF", "time": "t"}
    try:
        with caplog.at_level(logging.ERROR, logger="odte_nautilus.live.alerts"):
            accepted = [alerter.submit(alert_of(record)) for _ in range(4)]  # type: ignore[arg-type]
    finally:
        alerter.close(timeout=0.2)
        slow.close()
    assert not all(accepted)
    full = [r for r in caplog.records if "queue is full" in r.getMessage()]
    assert len(full) == accepted.count(False) and "RISK-OFF" in full[0].getMessage()


def test_which_journal_records_are_alerts():
    assert alert_of({"kind": "decision", "decision": {"allowed": False}}) is None
    assert alert_of({"kind": "lock", "reason": EOD_LOCK_REASON}) is None  # the day's normal end
    loss = alert_of({"kind": "lock", "trading_date": "2024-08-05", "reason": "daily hard stop: ..."})
    assert loss is not None and loss.category == "daily_loss_limit"
    cases: dict[str, dict[str, object]] = {
        "circuit_breaker": {"kind": "breaker", "breaker": "strategy", "strategy": "G", "reason": "r"},
        "emergency_stop": {"kind": "kill_switch", "on": True, "by": "api", "reason": "r"},
        "position_mismatch": {"kind": "alert", "about": "position_mismatch", "instrument": "X", "broker": 1, "node": 0},
        "paper_guard": {"kind": "alert", "about": "paper_guard", "reason": "account: not paper"},
        "order_rejected": {"kind": "alert", "about": "order_rejected", "reason": "r"},
        "risk_event": {"kind": "alert", "strategy": "G", "package": "P", "reason": "overfill"},
        "unclaimed_position": {"kind": "alert", "about": "unclaimed_position", "instrument": "X", "reason": "r"},
    }
    for category, record in cases.items():
        alert = alert_of(record)
        assert alert is not None and alert.category == category, (category, alert)
    mismatch = alert_of(cases["position_mismatch"])
    assert mismatch is not None and "broker holds 1, the node 0" in mismatch.body


def test_a_url_apprise_cannot_read_is_refused_naming_where_it_came_from_not_its_secret():
    with pytest.raises(AlertConfigError, match=r"ODTE_ALERT_URLS \(URL 2\).*'nosuch'") as info:
        build_alerter(_settings(), env={"ODTE_ALERT_URLS": "json://127.0.0.1:9/ok nosuch://s3cr3t@host"})
    assert "s3cr3t" not in str(info.value)


def test_urls_come_from_the_config_then_the_environment():
    settings = _settings("ntfy://ntfy.example/odte")
    urls = alert_urls(settings, {"ODTE_ALERT_URLS": "slack://a/b/c, json://127.0.0.1:9/x"})
    assert [u for u, _ in urls] == ["ntfy://ntfy.example/odte", "slack://a/b/c", "json://127.0.0.1:9/x"]
    assert load_settings().alerts.urls_env == "ODTE_ALERT_URLS"  # configs/paper.yaml has the section


def test_a_listener_that_raises_never_stops_the_journal(tmp_path, caplog):
    journal = AuditJournal(tmp_path / "j.jsonl")

    def broken(record: dict) -> None:
        raise RuntimeError("boom")

    journal.on_append(broken)
    with caplog.at_level(logging.ERROR, logger="odte_nautilus.risk.journal"):
        journal.append("breaker", reason="r")
    journal.close()
    assert [r["kind"] for r in read(tmp_path / "j.jsonl")] == ["breaker"]
    assert any("journal listener" in r.getMessage() for r in caplog.records)


def test_with_no_target_the_alert_still_goes_to_the_log(caplog):
    alerter = build_alerter(_settings(), env={})
    try:
        with caplog.at_level(logging.ERROR, logger="odte_nautilus.live.alerts"):
            alerter.on_journal({"kind": "breaker", "breaker": "global", "reason": "RISK-OFF now"})
    finally:
        alerter.close()
    assert not alerter.sent and any("RISK-OFF now" in r.getMessage() for r in caplog.records)
