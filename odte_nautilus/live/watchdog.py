"""The out-of-band watchdog of the IB paper node (issue 12): a separate process, its own IB client id.

The node can hang (its event loop blocked) or die with a fly open, and 0DTE shorts left to the close are
the loss seed 000's systems could not cap. The watchdog does not trust the node to notice: it talks to the
gateway itself (plain ib_async, not Nautilus, so nothing of the node's code or state is on its path) and
reads only what the node leaves on disk, its heartbeat (``heartbeat.py``). Every ``check_seconds`` it:

- flattens everything (``watchdog_flatten.Flattener``) when the broker shows positions and either the
  node has not beaten for ``ib.heartbeat_timeout_seconds`` of wall time or the session's EOD flatten plus
  a grace has passed in the gateway's time (``watchdog_rules.flatten_call``); ``odte watchdog flatten``
  does the same by hand;
- every ``reconcile_every_seconds`` compares the broker's option positions with the node's record (the
  positions in its last beat); a difference seen twice, two beats apart (a fill between a beat and the
  broker's answer is no mismatch), is journaled and alerted. It never flattens on a mismatch alone: the
  node may be right to hold what it holds.

Before a flatten the watchdog sets the kill switch in the node's durable risk state (``risk/store.py``), so
a node that wakes up, during the flatten or after, cannot enter again; exits and a person's reset stay
possible. Pre-flight first: the same IB paper guards as the node (every managed account a ``DU`` paper
account, a paper port or the declared simulator on loopback, ``BROKER_MODE=PAPER``); one refusal and the
watchdog disconnects having sent nothing.

The journal is ``<state_dir>/watchdog.jsonl`` (``risk/journal.py``), and its alert-worthy lines go through
the node's alerter (``alerts.py``): a mismatch, a flatten, a flatten that did not end flat.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sqlite3
import time
from collections.abc import Callable, Mapping
from pathlib import Path

import ib_async as ibi

from odte_nautilus.live.alerts import Alerter, build_alerter
from odte_nautilus.live.guards import GuardCheck, GuardFailed, broker_mode
from odte_nautilus.live.heartbeat import HEARTBEAT_FILE, Heartbeat, read_heartbeat
from odte_nautilus.live.ib_guards import ib_paper_accounts, ib_paper_port
from odte_nautilus.live.node import STATE_FILE
from odte_nautilus.live.settings import LiveSettings
from odte_nautilus.live.watchdog_flatten import FlattenConfig, Flattener, FlattenReport, leg_name, signed
from odte_nautilus.live.watchdog_rules import FlattenCall, Mismatch, Trigger, flatten_call, position_mismatches
from odte_nautilus.risk.journal import AuditJournal
from odte_nautilus.risk.session import SessionCalendarError, SessionWindow, TradingCalendar, trading_date
from odte_nautilus.risk.store import RiskStore, StateCorruptError
from odte_nautilus.risk.time_units import MINUTE_NS, NS_PER_SECOND

log = logging.getLogger(__name__)

JOURNAL_FILE = "watchdog.jsonl"
WATCHDOG = "watchdog"  # ``by`` of the kill switch it sets
GATEWAY = "gateway"  # the pre-flight item "a gateway answers"
CONNECT_TIMEOUT_S = 10.0
GATEWAY_TIMEOUT_S = 5.0  # a gateway that does not say its time this fast is answered with "unknown"


class Watchdog:
    """One account's watchdog; ``await run()`` until ``stop()``, or ``await flatten_all()`` once.

    The loop: ib_async 2.0.1 opens every connection on the loop its ``util.getLoop()`` first returned in the
    process (cached), so run the watchdog there: ``asyncio.run`` in a process of its own (the CLI) does, a
    test in a shared process runs it on ``ib_async.util.getLoop()``. ``host``/``port`` default to the
    ``ib:`` settings; ``simulator`` declares the project's TWS simulator on loopback; ``account`` defaults
    to the environment variable ``ib.account_env`` names; ``risk_state`` (where the kill switch goes) to
    the node's ``<state_dir>/paper.sqlite``.
    """

    def __init__(
        self,
        settings: LiveSettings,
        state_dir: Path,
        *,
        host: str | None = None,
        port: int | None = None,
        simulator: bool = False,
        account: str | None = None,
        client_id: int | None = None,
        env: Mapping[str, str] | None = None,
        flatten: FlattenConfig | None = None,
        eod_grace_minutes: int = 5,
        check_seconds: float = 1.0,
        risk_state: Path | None = None,
        alerter: Alerter | None = None,
        wall_ns: Callable[[], int] = time.time_ns,
    ) -> None:
        self.settings = settings
        self.state_dir = Path(state_dir)
        self.host = host or settings.ib.host
        self.port = port or settings.ib.port
        self.simulator = simulator
        self.env = dict(os.environ if env is None else env)
        self.account = account or self.env.get(settings.ib.account_env) or ""
        self.client_id = settings.ib.watchdog_client_id if client_id is None else client_id
        self.heartbeat_path = self.state_dir / HEARTBEAT_FILE
        self.risk_state = risk_state or self.state_dir / STATE_FILE
        self.eod_grace_ns = eod_grace_minutes * MINUTE_NS
        self.check_seconds = check_seconds
        self.reports: list[FlattenReport] = []
        self.ib = ibi.IB()
        self.flattener = Flattener(self.ib, self.account, flatten or FlattenConfig(), wall_ns)
        self.journal = AuditJournal(self.state_dir / JOURNAL_FILE)
        self.alerter = alerter or build_alerter(settings.alerts, self.env)
        self.journal.on_append(self.alerter.on_journal)
        self._wall_ns = wall_ns
        self._calendar = TradingCalendar()
        self._stop = asyncio.Event()
        self._watching_since = wall_ns()
        self._next_reconcile = self._watching_since
        self._quiet_until = 0  # after a flatten that did not end flat: the next automatic one waits
        self._suspects: tuple[int, list[Mismatch]] | None = None  # mismatches seen once: (when, what)

    # -- pre-flight ---------------------------------------------------------------------------------

    async def preflight(self) -> list[GuardCheck]:
        """The paper guards item by item, connecting only when the local ones pass; disconnects on a refusal.

        The accounts come from the gateway's handshake, before any order could be sent; nothing is sent.
        """
        checks = [broker_mode(self.env), ib_paper_port(self.host, self.port, simulator=self.simulator)]
        if all(c.passed for c in checks):
            checks.append(await self._connect())
        if all(c.passed for c in checks):
            checks.append(ib_paper_accounts(self.ib.managedAccounts(), self.account))
        if not all(c.passed for c in checks):
            self.ib.disconnect()
        return checks

    async def connect(self) -> list[GuardCheck]:
        """Pre-flight, or ``GuardFailed`` naming every refusal (nothing was sent); ``ConnectionError`` when
        no gateway answers (not a refusal: the run loop tries again)."""
        checks = await self.preflight()
        failed = [c for c in checks if not c.passed]
        if [c.name for c in failed] == [GATEWAY]:
            raise ConnectionError(failed[0].reason)
        if failed:
            self.journal.append("watchdog", about="refused", reason="; ".join(f"{c.name}: {c.reason}" for c in failed))
            raise GuardFailed(failed)
        self.journal.append(
            "watchdog", about="connected", gateway=f"{self.host}:{self.port}", account=self.account,
            client_id=self.client_id, heartbeat=str(self.heartbeat_path),
        )  # fmt: skip
        return checks

    async def _connect(self) -> GuardCheck:
        if self.ib.isConnected():
            return GuardCheck.ok(GATEWAY, f"connected to {self.host}:{self.port}")
        try:
            await self.ib.connectAsync(
                self.host,
                self.port,
                clientId=self.client_id,
                timeout=CONNECT_TIMEOUT_S,
                fetchFields=ibi.StartupFetchNONE,
            )
        except (OSError, TimeoutError, ConnectionError) as exc:
            return GuardCheck.fail(GATEWAY, f"no IB gateway answers on {self.host}:{self.port} ({exc!r})")
        return GuardCheck.ok(GATEWAY, f"{self.host}:{self.port} as client id {self.client_id}")

    def heartbeat_status(self) -> str:
        """Where the watchdog listens for the node, and what it last heard (pre-flight's last line)."""
        beat = read_heartbeat(self.heartbeat_path)
        if beat is None:
            return f"no heartbeat yet in {self.heartbeat_path}"
        age = (self._wall_ns() - beat.wall_ns) / NS_PER_SECOND
        return f"{self.heartbeat_path}: last beat {age:.0f} s ago from pid {beat.pid}, {len(beat.positions)} legs"

    # -- the loop -----------------------------------------------------------------------------------

    async def run(self) -> None:
        """Watch until ``stop()``: a pass every ``check_seconds``; a pass that fails is logged, not fatal."""
        if not self.ib.isConnected():
            await self.connect()
        self._stop.clear()
        log.warning("watchdog on %s:%s for %s; heartbeat %s", self.host, self.port, self.account, self.heartbeat_path)
        while not self._stop.is_set():
            try:
                if not self.ib.isConnected():
                    await self.connect()
                await self.check()
            except GuardFailed:
                raise
            except Exception:  # a watchdog that dies on one bad pass (a gateway gone, a busy file) guards nothing
                log.exception("watchdog pass failed; the next one in %.1f s", self.check_seconds)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), self.check_seconds)

    def stop(self) -> None:
        self._stop.set()

    async def check(self) -> FlattenReport | None:
        """One pass: reconcile when due, then flatten if a trigger fires."""
        held = await self.flattener.positions()
        beat = read_heartbeat(self.heartbeat_path)
        now = self._wall_ns()
        if now >= self._next_reconcile:
            await self.reconcile(held, beat)
        if now < self._quiet_until:
            return None
        session = await self.session_ns()
        call = flatten_call(
            holding=bool(held),
            now_wall_ns=now,
            session_ns=session,
            last_beat_wall_ns=beat.wall_ns if beat else None,
            watching_since_ns=self._watching_since,
            window=None if session is None else self.session_window(session),
            heartbeat_timeout_ns=int(self.settings.ib.heartbeat_timeout_seconds * NS_PER_SECOND),
            eod_grace_ns=self.eod_grace_ns,
        )
        if call is None:
            return None
        report = await self.flatten_all(call)
        if not report.flat:
            self._quiet_until = self._wall_ns() + int(self.settings.ib.heartbeat_timeout_seconds * NS_PER_SECOND)
        return report

    async def session_ns(self) -> int | None:
        """The gateway's time (a simulator's replayed time), or None when it does not say."""
        try:
            now = await asyncio.wait_for(self.ib.reqCurrentTimeAsync(), GATEWAY_TIMEOUT_S)
        except TimeoutError:
            log.error("the gateway did not say its time within %.0f s: no EOD check this pass", GATEWAY_TIMEOUT_S)
            return None
        return int(now.timestamp()) * NS_PER_SECOND

    def session_window(self, session_ns: int) -> SessionWindow | None:
        try:
            return self._calendar.session_window(trading_date(session_ns), self.settings.flatten_minutes_before_close)
        except SessionCalendarError as exc:
            log.error("no EOD check: %s", exc)
            return None

    # -- reconciliation -----------------------------------------------------------------------------

    async def reconcile(
        self, held: Mapping[int, ibi.Position] | None = None, beat: Heartbeat | None = None
    ) -> list[Mismatch]:
        """Compare the broker's option positions with the node's last beat; returns the mismatches confirmed.

        A difference is confirmed when it is still there ``2 * ib.heartbeat_seconds`` later (the node had
        two beats to report a fill the broker already shows); then it is journaled and alerted, once per leg.
        """
        held = await self.flattener.positions() if held is None else held
        beat = read_heartbeat(self.heartbeat_path) if beat is None else beat
        now = self._wall_ns()
        self._next_reconcile = now + self.settings.reconcile_every_seconds * NS_PER_SECOND
        if beat is None:
            log.warning("no heartbeat in %s: nothing to reconcile the broker against", self.heartbeat_path)
            return []
        broker = {leg_name(p.contract): signed(p) for p in held.values()}
        found = position_mismatches(broker, beat.positions)
        if not found:
            self._suspects = None
            return []
        confirm_ns = int(2 * self.settings.ib.heartbeat_seconds * NS_PER_SECOND)
        if self._suspects is None or now < self._suspects[0] + confirm_ns:
            since = now if self._suspects is None else self._suspects[0]
            self._suspects = (since, found)
            self._next_reconcile = since + confirm_ns
            return []
        self._suspects = None
        age_s = (now - beat.wall_ns) / NS_PER_SECOND
        for m in found:
            self.journal.append(
                "alert", about="position_mismatch", instrument=m.leg, broker=m.broker, node=m.node,
                reason=f"the broker holds {m.broker}, the node's last beat ({age_s:.0f} s ago) says {m.node}",
                source=WATCHDOG,
            )  # fmt: skip
        return found

    # -- flatten ------------------------------------------------------------------------------------

    async def flatten_all(self, call: FlattenCall | None = None) -> FlattenReport:
        """Kill switch on, then cancel everything and close every option leg, shorts first; the report.

        The kill switch goes first: a node that wakes up while the watchdog closes its legs must not open
        new ones. Setting it never blocks the flatten (a state file that cannot be written is reported).
        """
        if not self.ib.isConnected():
            await self.connect()
        call = call or FlattenCall(Trigger.MANUAL, "flatten by hand (odte watchdog flatten)")
        self.journal.append("alert", about="watchdog_flatten", trigger=call.trigger.value, reason=call.reason)
        kill_switch = self.set_kill_switch(call.reason)
        report = await self.flattener.flatten_all(call.reason)
        report.kill_switch = kill_switch
        self.reports.append(report)
        self.journal.append("watchdog_flatten", trigger=call.trigger.value, **report.record())
        if not report.flat:
            self.journal.append(
                "alert", about="watchdog_not_flat", reason=f"positions left at the broker: {report.remaining}"
            )
        return report

    def set_kill_switch(self, reason: str) -> str:
        """The node's durable kill switch on (``RiskStore``'s own API); what happened, as a sentence."""
        try:
            with RiskStore(self.risk_state) as store:
                store.set_kill_switch(True, by=WATCHDOG, reason=f"watchdog: {reason}")
        except (StateCorruptError, sqlite3.Error, OSError) as exc:
            log.error("kill switch NOT set in %s: %s", self.risk_state, exc)
            return f"NOT set in {self.risk_state}: {exc}"
        return f"on in {self.risk_state}"

    def close(self) -> None:
        self.ib.disconnect()
        self.alerter.close()
        self.journal.close()
