"""Push alerts from the paper node: to the log at once, then to the configured targets through apprise.

Seed 003 ("Monitoring", "Failure Handling"): a trader is told at once when a circuit breaker trips, the day
locks on a loss limit, a position does not match the broker, an order is rejected, a paper guard fails or
the emergency stop is pressed. All of these already leave a line in the risk book's journal
(``risk/book.py``, ``live/broker_watch.py``; an order rejection is journaled here), so the alerts listen to
the journal: one source for the alert, the audit trail and the daily report (``reports/daily.py``).

The journal's listener runs on the node's event loop, so it only classifies the record and puts it on one
bounded queue per target; each target's own worker thread pushes it (Slack, ntfy, e-mail, a webhook: any
apprise URL), retrying with a doubling back-off, so a dead target never delays the others. Nothing is lost
silently: every alert is logged before it is queued, a push that still fails after its retries is logged
with the alert and the (redacted) target, and an alert that finds a target's queue full is logged as not
pushed there.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import queue
import re
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import apprise

from odte_nautilus.live.settings import AlertSettings, LiveSettings, environment
from odte_nautilus.risk.book import EOD_LOCK_REASON
from odte_nautilus.risk.journal import AuditJournal

if TYPE_CHECKING:
    from odte_nautilus.live.node import PaperNode

log = logging.getLogger(__name__)

ORDER_EVENTS = "events.order.*"  # the topic pattern of every strategy's order events on the Nautilus bus
TITLE_PREFIX = "[odte PAPER]"
KEPT = 1000  # delivered and given-up pushes kept for inspection (status, tests), the latest


class AlertConfigError(ValueError):
    """An alert target that apprise cannot read; the message names where it came from, never its secret."""


@dataclass(frozen=True)
class Alert:
    """One thing a trader must hear about: its category, a title, a sentence, and the journal record."""

    category: str  # circuit_breaker, daily_loss_limit, position_mismatch, order_rejected, paper_guard, ...
    title: str
    body: str
    severity: str  # an apprise notify type: "failure" or "warning"
    record: Mapping[str, Any]

    def line(self) -> str:
        return f"[ALERT] {self.category}: {self.title}: {self.body} (at {self.record.get('time', '?')})"


def alert_of(record: Mapping[str, Any]) -> Alert | None:
    """The alert a journal record calls for, or None (a kernel decision, the EOD lock, a reset...)."""
    kind = record.get("kind")
    reason = str(record.get("reason", ""))
    if kind == "breaker":
        scope = record.get("breaker", "?")
        who = f" {record['strategy']}" if record.get("strategy") else ""
        return Alert("circuit_breaker", f"circuit breaker tripped ({scope}{who})", reason, "failure", record)
    if kind == "lock" and reason != EOD_LOCK_REASON:
        day = record.get("trading_date", "?")
        return Alert("daily_loss_limit", f"day {day} locked: no new entries", reason, "failure", record)
    if kind == "kill_switch" and record.get("on", True):
        by = record.get("by", "?")
        return Alert("emergency_stop", f"emergency stop by {by}: no new entries", reason, "failure", record)
    if kind != "alert":
        return None
    about = record.get("about")
    if about == "position_mismatch":
        body = f"{record.get('instrument')}: broker holds {record.get('broker')}, the node {record.get('node')}"
        return Alert("position_mismatch", "position mismatch with the broker", body, "failure", record)
    if about == "paper_guard":
        return Alert("paper_guard", "paper guard failed: new orders stop", reason, "failure", record)
    if about == "order_rejected":
        title = f"order rejected ({record.get('strategy')}, {record.get('order')})"
        return Alert("order_rejected", title, reason, "warning", record)
    if about:  # another watch's alert (e.g. a position no package ledger claims after a restart)
        what = record.get("instrument") or record.get("package") or record.get("strategy") or ""
        return Alert(str(about), f"{str(about).replace('_', ' ')} {what}".strip(), reason, "failure", record)
    # risk_event: a fill the books cannot place; the strategy is disabled until a person enables it
    title = f"risk event: {record.get('strategy')} disabled, package {record.get('package') or '-'} to review"
    return Alert("risk_event", title, reason, "failure", record)


@dataclass(frozen=True)
class Target:
    """One push destination: the apprise plugin and its URL with the secrets masked (for the log)."""

    name: str
    send: Callable[[str, str, str], bool]  # (title, body, notify type) -> delivered


def apprise_target(url: str, source: str) -> Target:
    plugin = apprise.Apprise.instantiate(url)
    if plugin is None:
        scheme = url.split("://", 1)[0] if "://" in url else "(no scheme)"
        raise AlertConfigError(
            f"{source}: an alert URL with scheme {scheme!r} is not one apprise can send to;"
            " see apprise's list of services (e.g. ntfy://, slack://, mailtos://, json://)"
        )
    name = plugin.url(privacy=True).split("?", 1)[0]

    def send(title: str, body: str, notify_type: str) -> bool:
        return bool(plugin.notify(body=body, title=title, notify_type=notify_type))

    return Target(name, send)


class Alerter:
    """Logs each alert at once and pushes it to every target, each from its own worker, never from the caller.

    ``submit`` never blocks and never raises: a target whose queue is full is logged with the alert (which
    was logged first anyway). Each target gets ``1 + retries`` attempts, ``backoff_seconds`` apart and
    doubling; what still fails is logged with the alert and the target. One worker per target, so a dead
    target retrying never delays the others. ``close`` lets the workers finish what is queued, for a while.
    """

    def __init__(
        self,
        targets: Iterable[Target],
        *,
        retries: int = 3,
        backoff_seconds: float = 2.0,
        queue_size: int = 1000,
        logger: logging.Logger = log,
    ) -> None:
        self.targets = tuple(targets)
        self.retries = retries
        self.backoff_seconds = backoff_seconds
        self.log = logger
        self.sent: deque[tuple[str, Alert]] = deque(maxlen=KEPT)  # (target, alert) delivered, the latest
        self.failed: deque[tuple[str, Alert]] = deque(maxlen=KEPT)  # (target, alert) given up on, the latest
        self._queues = [queue.Queue[Alert | None](maxsize=queue_size) for _ in self.targets]
        self._stop = threading.Event()  # closing: no new alerts
        self._abort = threading.Event()  # closed and past the deadline: the workers stop retrying
        self._workers = [
            threading.Thread(target=self._run, args=(t, q), name=f"odte-alerts-{i}", daemon=True)
            for i, (t, q) in enumerate(zip(self.targets, self._queues, strict=True))
        ]
        for worker in self._workers:
            worker.start()
        atexit.register(self.close)

    # -- the caller's side (the node's event loop) -------------------------------------------------

    def on_journal(self, record: Mapping[str, Any]) -> None:
        """The journal listener: an alert-worthy record becomes an alert."""
        alert = alert_of(record)
        if alert is not None:
            self.submit(alert)

    def submit(self, alert: Alert) -> bool:
        """Log the alert and queue it for every target; False if a target will not get it (logged why)."""
        self.log.error(alert.line())
        if self._stop.is_set():
            if self.targets:
                self.log.error(f"[ALERT] not pushed, the alerter is closed: {alert.line()}")
            return False
        queued = bool(self.targets)
        for target, pending in zip(self.targets, self._queues, strict=True):
            try:
                pending.put_nowait(alert)
            except queue.Full:
                queued = False
                self.log.error(
                    f"[ALERT] not pushed to {target.name}, its queue is full ({pending.maxsize}): {alert.line()}"
                )
        return queued

    def close(self, timeout: float = 10.0) -> None:
        """Stop taking alerts; push what is queued for at most ``timeout`` seconds, log what is left."""
        if self._stop.is_set():
            return
        self._stop.set()
        atexit.unregister(self.close)
        deadline = time.monotonic() + timeout
        for pending in self._queues:
            with contextlib.suppress(queue.Full):  # that worker is stuck on its target: it gets no stop mark
                pending.put_nowait(None)
        for worker in self._workers:
            worker.join(max(0.0, deadline - time.monotonic()))
        self._abort.set()
        for target, pending in zip(self.targets, self._queues, strict=True):
            while True:
                try:
                    left = pending.get_nowait()
                except queue.Empty:
                    break
                if left is not None:
                    self.log.error(f"[ALERT] not pushed to {target.name} before shutdown: {left.line()}")

    def drain(self, timeout: float = 10.0) -> bool:
        """Wait until every queued alert has been tried on its target; False if ``timeout`` came first."""
        deadline = time.monotonic() + timeout
        while any(pending.unfinished_tasks for pending in self._queues):
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.01)
        return True

    # -- the workers -------------------------------------------------------------------------------

    def _run(self, target: Target, pending: queue.Queue[Alert | None]) -> None:
        while True:
            alert = pending.get()
            try:
                if alert is None:
                    return
                self._push(target, alert)
            finally:
                pending.task_done()

    def _push(self, target: Target, alert: Alert) -> None:
        title = f"{TITLE_PREFIX} {alert.title}"
        attempts = 1 + self.retries
        error = ""
        for attempt in range(1, attempts + 1):
            try:
                delivered = target.send(title, alert.body, alert.severity)
                error = "" if delivered else "the service did not accept it"
            except Exception as exc:  # a plugin's bug must not kill the worker
                delivered, error = False, f"{type(exc).__name__}: {exc}"
            if delivered:
                self.sent.append((target.name, alert))
                return
            if attempt < attempts:
                self.log.warning(f"[ALERT] push to {target.name} failed ({error}), attempt {attempt}/{attempts}")
                if self._abort.wait(self.backoff_seconds * 2 ** (attempt - 1)):
                    error += "; the alerter closed before the next attempt"
                    break
        self.failed.append((target.name, alert))
        self.log.error(f"[ALERT] push to {target.name} failed after {attempt} attempt(s) ({error}): {alert.line()}")


def alert_urls(settings: AlertSettings, env: Mapping[str, str]) -> list[tuple[str, str]]:
    """(url, where it came from): ``alerts.urls`` of the config, then the environment variable's."""
    found = [(url, f"configs/paper.yaml: alerts.urls[{i}]") for i, url in enumerate(settings.urls)]
    extra = [u for u in re.split(r"[\s,]+", env.get(settings.urls_env, "")) if u]
    found += [(url, f"environment: {settings.urls_env} (URL {i + 1})") for i, url in enumerate(extra)]
    return found


def build_alerter(settings: AlertSettings, env: Mapping[str, str] | None = None) -> Alerter:
    """An alerter for the configured targets (refused with the source named if a URL is not apprise's)."""
    env = environment() if env is None else env  # the process environment over .env.local
    targets = [apprise_target(url, source) for url, source in alert_urls(settings, env)]
    return Alerter(
        targets,
        retries=settings.retries,
        backoff_seconds=settings.retry_backoff_seconds,
        queue_size=settings.queue_size,
    )


def journal_rejection(journal: AuditJournal, event: Any) -> None:
    """An ``OrderRejected`` from the broker becomes an ``alert`` journal line (seed 003: log the reason, alert)."""
    journal.append(
        "alert",
        ts_ns=int(event.ts_event),
        about="order_rejected",
        strategy=event.strategy_id.value,
        order=event.client_order_id.value,
        instrument=event.instrument_id.value,
        reason=str(event.reason),
    )


def attach_alerts(paper: PaperNode, settings: LiveSettings, env: Mapping[str, str] | None = None) -> Alerter:
    """Alerts for a built paper node: its journal's alert-worthy records and its orders' rejections.

    Call once, after ``build_paper_node`` and before the node runs. The alerter closes itself at exit
    (pushing what is queued for up to 10 s); a runner may call ``close()`` earlier. With no target
    configured, the alerts still go to the log.
    """
    from nautilus_trader.model.events import OrderRejected  # Nautilus only here: the rest is plain Python

    alerter = build_alerter(settings.alerts, env)
    journal = paper.book.journal

    def on_order_event(event: Any) -> None:
        if isinstance(event, OrderRejected):
            journal_rejection(journal, event)

    journal.on_append(alerter.on_journal)
    paper.node.kernel.msgbus.subscribe(topic=ORDER_EVENTS, handler=on_order_event)
    _to_node_log(alerter.log)
    return alerter


class _NodeLog(logging.Handler):
    """Mirrors the alerter's lines into the node's own log (``logs/paper_trading.log``), beside its orders."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        from nautilus_trader.common.component import Logger

        self._log = Logger("OdteAlerts")

    def emit(self, record: logging.LogRecord) -> None:
        text = record.getMessage()
        (self._log.error if record.levelno >= logging.ERROR else self._log.warning)(text)


def _to_node_log(logger: logging.Logger) -> None:
    if not any(isinstance(h, _NodeLog) for h in logger.handlers):
        logger.addHandler(_NodeLog())
