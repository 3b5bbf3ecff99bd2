"""A connection's account subscriptions: account updates (and their multi form), the account summary and
the position stream, each answered with its end marker and refreshed after every fill and at the close.

ib_async asks for positions, account updates and their multi form when it connects; Nautilus's execution
client waits for the summary's NetLiquidation, TotalCashValue, FullAvailableFunds, FullInitMarginReq and
FullMaintMarginReq before it reports connected; the watchdog reads positions. A closed position goes out once
at zero.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING

from odte_nautilus.risk.time_units import NS_PER_SECOND
from odte_nautilus.sim.ib import outgoing
from odte_nautilus.sim.ib.contracts import MULTIPLIER, IbContract
from odte_nautilus.sim.ib.messages import In
from odte_nautilus.sim.ib.outgoing import Message
from odte_nautilus.sim.ib.wire import Fields

if TYPE_CHECKING:
    from odte_nautilus.sim.ib.venue import Venue


@dataclass
class Subscribed:
    account_updates: bool = False
    account_multi: set[int] = field(default_factory=set)
    summaries: dict[int, set[str]] = field(default_factory=dict)
    positions: bool = False
    positions_sent: dict[int, int] = field(default_factory=dict)  # conId -> the quantity last sent


class AccountFeed:
    def __init__(self, venue: Venue, send: Callable[[Message], None]) -> None:
        self._venue = venue
        self._send = send
        self.subs = Subscribed()

    def handlers(self) -> dict[int, Callable[[Fields], None]]:
        """The requests this answers, by message id."""
        return {
            In.REQ_ACCOUNT_UPDATES: self._req_account_updates,
            In.REQ_ACCOUNT_UPDATES_MULTI: self._req_account_updates_multi,
            In.CANCEL_ACCOUNT_UPDATES_MULTI: self._cancel_account_updates_multi,
            In.REQ_ACCOUNT_SUMMARY: self._req_account_summary,
            In.CANCEL_ACCOUNT_SUMMARY: self._cancel_account_summary,
            In.REQ_POSITIONS: self._req_positions,
            In.CANCEL_POSITIONS: self._cancel_positions,
        }

    def changed(self) -> None:
        """A fill or the close moved the account: refresh every account subscription of this client."""
        if self.subs.account_updates:
            self._send_account_updates()
        for req_id in self.subs.account_multi:
            self._send_account_multi(req_id)
        for req_id, tags in self.subs.summaries.items():
            self._send_summary(req_id, tags)
        if self.subs.positions:
            self._send_positions(end=False)

    def _req_account_updates(self, fields: Fields) -> None:
        fields.skip()
        subscribe = fields.flag()
        self.subs.account_updates = subscribe
        if subscribe:
            self._send_account_updates()
            self._send(outgoing.account_download_end(self._venue.broker.account))

    def _send_account_updates(self) -> None:
        broker = self._venue.broker
        for key, text, currency in broker.account_values():
            self._send(outgoing.account_value(key, text, currency, broker.account))
        for held in broker.holdings.values():
            mark = broker.mark(held.contract)
            value = mark * held.qty * MULTIPLIER
            cost = held.avg_price * MULTIPLIER
            unrealized = value - cost * held.qty
            self._send(
                outgoing.portfolio_value(held.contract, "CBOE", held.qty, mark, value, cost, unrealized, broker.account)
            )
        when = datetime.fromtimestamp(self._venue.now_ns() / NS_PER_SECOND, tz=UTC)
        self._send(outgoing.account_time(when.strftime("%H:%M")))

    def _req_account_updates_multi(self, fields: Fields) -> None:
        fields.skip()
        req_id = fields.integer()
        self.subs.account_multi.add(req_id)
        self._send_account_multi(req_id)
        self._send(outgoing.account_update_multi_end(req_id))

    def _send_account_multi(self, req_id: int) -> None:
        broker = self._venue.broker
        for key, value, currency in broker.account_values():
            self._send(outgoing.account_update_multi(req_id, broker.account, key, value, currency))

    def _cancel_account_updates_multi(self, fields: Fields) -> None:
        fields.skip()
        self.subs.account_multi.discard(fields.integer())

    def _req_account_summary(self, fields: Fields) -> None:
        fields.skip()
        req_id = fields.integer()
        fields.skip()  # group
        tags = {t.strip() for t in fields.text().split(",") if t.strip()}
        self.subs.summaries[req_id] = tags
        self._send_summary(req_id, tags)

    def _send_summary(self, req_id: int, tags: set[str]) -> None:
        broker = self._venue.broker
        for key, value, currency in broker.account_values():
            if key in tags:
                self._send(outgoing.account_summary(req_id, broker.account, key, value, currency))
        self._send(outgoing.account_summary_end(req_id))

    def _cancel_account_summary(self, fields: Fields) -> None:
        fields.skip()
        self.subs.summaries.pop(fields.integer(), None)

    def _req_positions(self, _: Fields) -> None:
        self.subs.positions = True
        self._send_positions(end=True)

    def _cancel_positions(self, _: Fields) -> None:
        self.subs.positions = False

    def _send_positions(self, end: bool) -> None:
        """Every position held (after a change: those that moved, closed ones at zero)."""
        broker = self._venue.broker
        now = {con_id: held.qty for con_id, held in broker.holdings.items()}
        before = self.subs.positions_sent
        for con_id in sorted(set(now) | set(before)):
            qty = now.get(con_id, 0)
            if not end and before.get(con_id) == qty:
                continue
            held = broker.holdings.get(con_id)
            contract: IbContract | None = held.contract if held is not None else self._venue.chain.get(con_id)
            if contract is None:
                continue
            cost = held.avg_price * MULTIPLIER if held is not None else Decimal(0)
            self._send(outgoing.position(broker.account, contract, "", qty, cost))
        self.subs.positions_sent = now
        if end:
            self._send(outgoing.position_end())
