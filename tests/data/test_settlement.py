"""The sample catalog cash-settles in Nautilus's backtester (design §12).

An ATM straddle bought at 10:00 from the catalog's quotes must be closed at expiry at intrinsic value
against the index's 16:00 LAST bar — with the IB ids (``^SPX`` underlying, spaces in option ids). Quotes
alone would leave the positions open forever (docs/market-facts.md, "Expiry settlement"), and an option quote
replayed before the 16:00 bar settled at the 15:59 level (``catalog_io.QUOTE_INIT_DELAY_NS``): the quotes
are added to the engine *before* the bars here, the order that exposed it.
"""

import pytest
from nautilus_trader.backtest.engine import BacktestEngine, BacktestEngineConfig
from nautilus_trader.config import LoggingConfig
from nautilus_trader.model.currencies import USD
from nautilus_trader.model.data import BarType
from nautilus_trader.model.enums import AccountType, OmsType, OrderSide
from nautilus_trader.model.identifiers import InstrumentId, Venue
from nautilus_trader.model.objects import Money, Quantity
from nautilus_trader.persistence.catalog import ParquetDataCatalog
from nautilus_trader.trading.strategy import Strategy

from odte_nautilus.data.calibration import atm_strike
from odte_nautilus.data.instruments import load_option_instruments
from odte_nautilus.data.symbology import parse_option_id
from odte_nautilus.risk.model import OptionRight
from odte_nautilus.risk.session import ny_ns


class _BuyStraddleAt(Strategy):
    def __init__(self, legs, bar_type, at_ns):
        super().__init__()
        self.legs, self.bar_type, self.at_ns, self.sent = legs, bar_type, at_ns, False

    def on_start(self):
        for leg in self.legs:
            self.subscribe_quote_ticks(leg)
        self.subscribe_bars(self.bar_type)

    def on_quote_tick(self, tick):
        if not self.sent and tick.ts_event >= self.at_ns and all(self.cache.quote_tick(leg) for leg in self.legs):
            self.sent = True
            for leg in self.legs:
                self.submit_order(self.order_factory.market(leg, OrderSide.BUY, Quantity.from_int(1)))


def test_straddle_from_the_catalog_cash_settles_at_the_close(tiny_catalog, session_data):
    catalog = ParquetDataCatalog(str(tiny_catalog))
    spec, session = session_data.spec, session_data.session
    entry = ny_ns(session.trading_date, 10, 0)
    spot = session_data.bars.close_at(entry)
    strike = atm_strike(sorted({parse_option_id(i).strike for i in session_data.quotes}), spot)
    legs = [InstrumentId.from_str(spec.option_id(session.trading_date, right, strike)) for right in OptionRight]

    engine = BacktestEngine(BacktestEngineConfig(logging=LoggingConfig(log_level="ERROR"), run_analysis=False))
    engine.add_venue(Venue(spec.venue), OmsType.NETTING, AccountType.MARGIN, [Money(1_000_000, USD)], base_currency=USD)
    engine.add_instrument(catalog.instruments(instrument_ids=[spec.underlying_id])[0])
    for option in load_option_instruments(catalog, [leg.value for leg in legs]):
        engine.add_instrument(option)
    engine.add_data(catalog.quote_ticks(instrument_ids=[leg.value for leg in legs]))
    engine.add_data(catalog.bars(bar_types=[spec.bar_type]))
    strategy = _BuyStraddleAt(legs, BarType.from_str(spec.bar_type), entry)
    engine.add_strategy(strategy)
    engine.run()

    positions = engine.cache.positions()
    assert len(positions) == 2 and all(p.is_closed for p in positions)
    settlement = session_data.bars.close_at(session.close_ns)
    for p in positions:
        right = parse_option_id(p.instrument_id.value).right
        intrinsic = max(settlement - strike, 0.0) if right is OptionRight.CALL else max(strike - settlement, 0.0)
        assert p.avg_px_close == pytest.approx(intrinsic, abs=0.01)
        assert p.ts_closed == session.close_ns
    engine.dispose()
