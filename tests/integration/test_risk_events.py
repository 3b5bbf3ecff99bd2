"""A fill the books cannot place is a risk event: the strategy's entries stop, and an alert is journaled.

Before, a fill of an order no package sent (or one the ledger refused) was a log line and was forgotten;
the strategy kept trading beside contracts it did not know it held.
"""

from __future__ import annotations

from nautilus_trader.common.factories import OrderFactory
from nautilus_trader.model.enums import OrderSide
from nautilus_trader.model.identifiers import InstrumentId, StrategyId
from nautilus_trader.model.objects import Price, Quantity
from nautilus_trader.trading.strategy import Strategy

from odte_nautilus.risk.book import RiskBook
from odte_nautilus.risk.decision import ReasonCode
from odte_nautilus.risk.policy import load_policy
from tests.engine_kit import send_raw
from tests.kit import entry, iron_butterfly, ny_ns
from tests.strategy_kit import C, Days, Market, P, SendsAt, at, option_id, theta_harvester


def test_a_risk_event_disables_the_strategy_and_journals_an_alert(tmp_path):
    book = RiskBook(load_policy("multi_strategy_paper"), tmp_path / "s.sqlite", tmp_path / "d.jsonl", nav=100_000)
    try:
        book.risk_event("ThetaHarvester-001", "P-1", "overfill of 1 on SPXW C5100", ny_ns(10, 30))
        intent = entry(iron_butterfly(), strategy="ThetaHarvester-001", price=-12.0, ts_ns=ny_ns(10, 31))
        assert book.check(intent).code is ReasonCode.STRATEGY_DISABLED
        (alert,) = [line for line in book.journal.path.read_text().splitlines() if '"alert"' in line]
        assert '"package": "P-1"' in alert and "overfill" in alert
    finally:
        book.close()


def _order_in_the_name_of(owner: str, strike: int):
    """An order carrying another strategy's id: a fill the owner's ledger never sent (a reconciled
    external order, a second process, a bug)."""

    def build(sender: Strategy):
        factory = OrderFactory(sender.trader_id, StrategyId(owner), sender.clock)
        order = factory.limit(
            InstrumentId.from_str(option_id(C(strike))), OrderSide.BUY, Quantity.from_int(1), Price(99.0, 2)
        )
        send_raw(sender, order, "RiskEngine.execute")

    return build


class SendsRaw(SendsAt):
    def on_start(self) -> None:
        self.clock.set_time_alert_ns("send", self.when, lambda event: self.build(self))


def test_regression_fill_of_an_unknown_order_stops_the_strategy(tmp_path):
    harvester = theta_harvester(entry_start="14:00", entry_end="14:30")  # flat when the stranger's fill lands
    with Days(tmp_path) as days:
        day = days(Market(), [harvester, SendsRaw("10:05", _order_in_the_name_of("ThetaHarvester-001", 5560))]).run()
        alerts = day.journal("alert")
        assert [a["strategy"] for a in alerts] == ["ThetaHarvester-001"]
        assert "no package sent" in alerts[0]["reason"]
        after = [
            d["decision"]
            for d in day.decisions()
            if d["strategy"] == "ThetaHarvester-001"
            and d["ts_ns"] > alerts[0]["ts_ns"]
            and d["intent"]["kind"] == "entry"  # the node guard's close of the stranger's contract is an exit
        ]
        assert after and {(d["allowed"], d["code"]) for d in after} == {(False, "STRATEGY_DISABLED")}  # no entry since


def test_regression_an_unrealized_loss_trips_the_breaker_while_the_package_is_held(tmp_path):
    """The risk book's view of a held package kept the unrealized P&L of its last fill: a fly held to the
    flatten (the harvester's exit) could lose more than the strategy breaker's limit on paper all day and
    trip nothing until it closed. Marked at every bar, the loss trips the breaker on the next bar."""
    blown = {C(5550): (40.0, 40.2), C(5575): (15.0, 15.2), P(5550): (0.05, 0.1), P(5525): (0.0, 0.05)}
    market = Market().index("10:10", 5590.0).quote("10:10", blown)
    strategy = theta_harvester(max_entries_per_day=1)
    with Days(tmp_path) as days:
        day = days(market, [strategy])
        day.run("10:20")
        breakers = day.journal("breaker")
        held = dict(strategy.packages)
    assert held, "the fly is still held: only a mark can have moved the day's P&L"
    assert [b["strategy"] for b in breakers] == ["ThetaHarvester-001"]
    assert at("10:10") <= breakers[0]["ts_ns"] <= at("10:11")
