"""The paper node's broker watch: the account guards re-run, and positions reconciled, every few minutes.

Seed 003: pull the broker's positions every 5 minutes (and on every reconnect) and compare them with the
node's; a mismatch is an alert and the contract's packages go to review. The same pass re-reads the account:
if it is no longer a paper account, or the URL is no longer a paper one, the risk book's ``AccountMode``
turns to not-paper and the kernel's ``paper_account`` rule refuses every new order at once.

Repairs are Nautilus's: its execution engine re-queries open orders (``open_check_interval_secs``) and
books a fill or a cancel the node missed from the broker's order record, which is unambiguous. A position
the order records cannot explain is never "fixed" here: the strategies holding the contract are disabled
(an authorized action re-enables them) and the alert names the contract, the broker's and the node's count.

The watch runs on the node's clock, so a compressed simulator session checks every 5 replayed minutes.
"""

from __future__ import annotations

import asyncio
from typing import Any

from alpaca.common.exceptions import APIError
from alpaca.trading.client import TradingClient
from nautilus_trader.common.actor import Actor
from nautilus_trader.common.config import ActorConfig
from nautilus_trader.common.events import TimeEvent

from odte_nautilus.adapters.alpaca.http import AlpacaRest, BrokerUnavailable
from odte_nautilus.adapters.alpaca.symbols import instrument_id as instrument_id_of
from odte_nautilus.live.guards import GuardCheck, PaperWatch
from odte_nautilus.risk.book import RiskBook
from odte_nautilus.risk.model import AccountMode
from odte_nautilus.risk.time_units import NS_PER_SECOND

TIMER = "odte-broker-watch"


class BrokerWatchConfig(ActorConfig, frozen=True):
    every_seconds: int = 300
    base_url: str = ""
    simulator: bool = False


class BrokerWatch(Actor):
    def __init__(self, config: BrokerWatchConfig, book: RiskBook, rest: AlpacaRest[TradingClient]) -> None:
        """``rest``: the node's shared Alpaca REST (one token bucket for every request of the account, calls
        off the event loop, a timeout on each)."""
        super().__init__(config)
        self._every_ns = config.every_seconds * NS_PER_SECOND
        self._url = config.base_url
        self._book = book
        self._rest = rest
        self.last_check_ns: int | None = None  # the node-clock time of the last complete pass
        self._watch = PaperWatch(simulator=config.simulator, on_failure=self._not_paper)
        self.mismatches: list[dict[str, Any]] = []
        self.passes = 0
        self.skipped = 0  # ticks that found the REST budget short

    def on_start(self) -> None:
        self.clock.set_timer_ns(TIMER, self._every_ns, 0, 0, self._on_timer)

    def on_stop(self) -> None:
        if TIMER in self.clock.timer_names:
            self.clock.cancel_timer(TIMER)

    def _on_timer(self, event: TimeEvent) -> None:
        """A pass, unless the account's REST budget is short: orders go first, and a replayed session's 5
        minutes can pass in a fraction of a wall second. A skipped pass is made at the next tick."""
        if not self._rest.bucket.headroom():
            self.skipped += 1
            return
        asyncio.get_event_loop().create_task(self.check(event.ts_event))

    async def check(self, now_ns: int) -> None:
        """One pass: the account guards, then the positions (also called on a reconnect)."""
        try:
            account = await self._rest.call(self._rest.client.get_account)
            positions = await self._rest.call(self._rest.client.get_all_positions)
        except (APIError, BrokerUnavailable) as exc:  # a failed pass is logged and retried at the next one
            self.log.warning(f"[PAPER] broker watch: cannot read the account: {exc}")
            return
        self.passes += 1
        self.last_check_ns = now_ns
        self._watch.observe(account.get("account_number"), self._url)
        self._reconcile(_broker_holdings(positions), now_ns)

    def _reconcile(self, broker: dict[str, int], now_ns: int) -> None:
        node = self._node_holdings()
        for instrument_id in sorted(set(broker) | set(node)):
            held, ours = broker.get(instrument_id, 0), node.get(instrument_id, 0)
            if held == ours:
                continue
            mismatch = {"instrument": instrument_id, "broker": held, "node": ours}
            self.mismatches.append(mismatch)
            self.log.error(f"[PAPER] position mismatch {instrument_id}: broker {held}, node {ours}")
            self._book.journal.append("alert", ts_ns=now_ns, about="position_mismatch", **mismatch)
            for strategy_id in self._holders(instrument_id):
                self._book.risk_event(strategy_id, instrument_id, f"position mismatch: {mismatch}", now_ns)

    def _node_holdings(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for position in self.cache.positions_open():
            key = position.instrument_id.value
            out[key] = out.get(key, 0) + int(position.signed_qty)
        return {k: v for k, v in out.items() if v}

    def _holders(self, instrument_id: str) -> list[str]:
        return sorted(
            {p.strategy_id.value for p in self.cache.positions_open() if p.instrument_id.value == instrument_id}
        )

    def _not_paper(self, failed: list[GuardCheck]) -> None:
        reasons = "; ".join(f"{c.name}: {c.reason}" for c in failed)
        self.log.error(f"[PAPER] paper guard failed while running, new orders stop: {reasons}")
        self._book.account = AccountMode(is_paper_account=False, broker_paper_mode=False)
        self._book.journal.append("alert", ts_ns=self.clock.timestamp_ns(), about="paper_guard", reason=reasons)


def _broker_holdings(positions: list[dict[str, Any]]) -> dict[str, int]:
    """The broker's option positions as signed contracts per instrument id."""
    out: dict[str, int] = {}
    for position in positions:
        if position.get("asset_class") != "us_option":
            continue
        qty = int(float(position["qty"]))
        if qty:
            out[instrument_id_of(position["symbol"]).value] = qty
    return out
