"""A position no package ledger claims is the node guard's: alerted, and closed at the EOD flatten.

One scripted day: the Theta Harvester sells its iron fly at 10:00:30 and holds it into the flatten, as in
``test_strategy_eod``; at 10:00 the Gamma Scalper buys a call outside any package (the orphaned contract of
the incidents: a fill its ledger cannot place, so a risk event, and the scalper enters nothing more). At the
15:45 flatten the harvester closes its fly as a package; the call belongs to no package, so the scalper's own
flatten would leave it open to the close - the guard closes it, and only it.
"""

from __future__ import annotations

import pytest
from nautilus_trader.model.identifiers import InstrumentId

from odte_nautilus.strategies.gamma_scalper import GammaScalper
from tests.strategy_kit import C, Market, at, buy_call, gamma_scalper, option_id, run_day, theta_harvester

ORPHAN = C(5560)


class BuysAnOrphan(GammaScalper):
    def on_start(self) -> None:
        super().on_start()
        self.clock.set_time_alert_ns("orphan", at("10:00"), lambda event: self.submit_order(buy_call(5560, 6.5)(self)))


@pytest.fixture(scope="module")
def day(tmp_path_factory):
    strategies = [theta_harvester(), gamma_scalper(BuysAnOrphan)]
    run = run_day(tmp_path_factory.mktemp("unclaimed"), Market(), strategies)
    yield run
    run.close()


def test_the_orphaned_call_is_held_until_the_flatten_then_closed_by_the_guard(day):
    call = InstrumentId.from_str(option_id(ORPHAN))
    orders = [o for o in day.cache.orders(instrument_id=call)]
    assert [o.side_string() for o in orders] == ["BUY", "SELL"]
    bought, closed = orders
    assert bought.is_closed and bought.filled_qty == 1
    assert "GUARD" in closed.client_order_id.value and closed.filled_qty == 1
    assert at("15:45") <= closed.ts_init <= at("15:46") and "odte:exit=eod_flatten" in closed.tags
    assert day.positions() == {}


def test_the_guard_closes_nothing_a_package_claims(day):
    guard = [o for o in day.cache.orders() if "GUARD" in o.client_order_id.value]
    assert [o.instrument_id.value for o in guard] == [option_id(ORPHAN)], "the fly's legs are the harvester's"
    (fly,) = day.packages()
    assert (fly.strategy_id, fly.exit_kinds) == ("ThetaHarvester-001", "eod_flatten")


def test_the_fill_no_package_sent_is_a_risk_event(day):
    alerts = [a for a in day.journal("alert") if a.get("strategy") == "GammaScalper-002"]
    assert alerts and "which no package sent" in alerts[0]["reason"]
