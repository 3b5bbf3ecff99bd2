"""Today's option chains of the configured underlyings, the underlyings themselves, and packages on demand.

"Today" is the broker's trading day (``GET /v2/clock`` in New York), not the node's wall clock: against the
simulator the session replayed is a catalog day. ``get_option_contracts`` returns one page at a time
(100 contracts unless asked for more) and does not follow pages for us, so every ``next_page_token`` is
followed until there is none - a chain cut at the first page would drop most strikes silently.

Options are American on SPY/QQQ, quoted in pennies, 100 shares a contract, and expire at their session's
close (13:00 on an early close). A package's ``OptionSpread`` is built by ``odte_nautilus.packages``
exactly as for the backtest, from legs loaded here.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pandas as pd
from alpaca.trading.requests import GetOptionContractsRequest
from nautilus_trader.common.providers import InstrumentProvider
from nautilus_trader.config import InstrumentProviderConfig
from nautilus_trader.model.currencies import USD
from nautilus_trader.model.enums import AssetClass, OptionKind
from nautilus_trader.model.identifiers import InstrumentId, Symbol, generic_spread_id_to_list, is_generic_spread_id
from nautilus_trader.model.instruments import Equity, OptionContract
from nautilus_trader.model.objects import Price, Quantity

from odte_nautilus.adapters.alpaca.http import AlpacaRest
from odte_nautilus.adapters.alpaca.symbols import ALPACA_VENUE, alpaca_symbol, instrument_id, is_option, underlying_id
from odte_nautilus.data.instruments import ensure_tick_scheme
from odte_nautilus.data.ticks import PENNY_TICKS
from odte_nautilus.packages import option_spread
from odte_nautilus.risk.session import NEW_YORK, TradingCalendar, ny_ns

PAGE_SIZE = 1000
PRICE_PRECISION = 2
SPREAD_STRUCTURE = "SPREAD"  # what Nautilus names a spread it did not build; strategies build their own


def underlying_equity(symbol: str, ts_ns: int) -> Equity:
    increment = Price(0.01, PRICE_PRECISION)
    return Equity(
        underlying_id(symbol), Symbol(symbol), USD, PRICE_PRECISION, increment, Quantity.from_int(1), ts_ns, ts_ns
    )


def option_contract(contract: dict[str, Any], ts_ns: int) -> OptionContract:
    """An Alpaca contract (``/v2/options/contracts`` JSON) as a Nautilus option under our id."""
    expiry = date.fromisoformat(contract["expiration_date"])
    session = TradingCalendar().session_window(expiry)
    expiration_ns = session.close_ns if session is not None else ny_ns(expiry, 16, 0)
    multiplier = int(Decimal(str(contract.get("multiplier") or contract.get("size") or 100)))
    iid = instrument_id(contract["symbol"])
    return OptionContract(
        instrument_id=iid,
        raw_symbol=iid.symbol,
        asset_class=AssetClass.EQUITY,
        currency=USD,
        price_precision=PRICE_PRECISION,
        price_increment=Price(0.01, PRICE_PRECISION),
        multiplier=Quantity.from_int(multiplier),
        lot_size=Quantity.from_int(1),
        underlying=contract["underlying_symbol"],
        option_kind=OptionKind.CALL if contract["type"] == "call" else OptionKind.PUT,
        strike_price=Price(float(contract["strike_price"]), PRICE_PRECISION),
        activation_ns=min(ts_ns, expiration_ns),
        expiration_ns=expiration_ns,
        ts_event=ts_ns,
        ts_init=ts_ns,
        tick_scheme_name=ensure_tick_scheme(PENNY_TICKS),
        info={
            "trading_class": contract.get("root_symbol") or contract["underlying_symbol"],
            "exercise_style": str(contract.get("style", "american")).upper(),
            "settlement": "PHYSICAL",
            "alpaca_id": contract.get("id"),
        },
    )


class AlpacaInstrumentProvider(InstrumentProvider):
    """Loads the 0DTE chains of ``underlyings`` (all pages) and builds package spreads from loaded legs."""

    def __init__(
        self,
        rest: AlpacaRest,
        underlyings: tuple[str, ...],
        config: InstrumentProviderConfig | None = None,
        page_size: int = PAGE_SIZE,
    ) -> None:
        super().__init__(config=config)
        self._rest = rest
        self._underlyings = underlyings
        self._page_size = page_size
        self.pages = 0  # contract pages read (a chain spans several)
        self.trading_day: date | None = None

    async def load_all_async(self, filters: dict | None = None) -> None:
        clock = await self._rest.call(self._rest.client.get_clock)
        now = pd.Timestamp(clock["timestamp"])
        self.trading_day = now.tz_convert(NEW_YORK).date()
        for symbol in self._underlyings:
            self.add(underlying_equity(symbol, now.value))
            for contract in await self._contracts(symbol, self.trading_day):
                self.add(option_contract(contract, now.value))
        self._log.info(f"{self.count} instruments for {self.trading_day} over {self.pages} contract pages")

    async def _contracts(self, underlying: str, day: date) -> list[dict[str, Any]]:
        contracts: list[dict[str, Any]] = []
        token: str | None = None
        while True:
            request = GetOptionContractsRequest(
                underlying_symbols=[underlying], expiration_date=day, limit=self._page_size, page_token=token
            )
            page = await self._rest.call(self._rest.client.get_option_contracts, request)
            self.pages += 1
            contracts.extend(page.get("option_contracts") or [])
            token = page.get("next_page_token")
            if not token:
                return contracts

    async def load_ids_async(self, instrument_ids: list[InstrumentId], filters: dict | None = None) -> None:
        for iid in instrument_ids:
            await self.load_async(iid, filters)

    async def load_async(self, instrument_id: InstrumentId, filters: dict | None = None) -> None:
        """A spread from its legs (loading a missing leg by symbol), an option by symbol, an underlying."""
        if instrument_id.venue != ALPACA_VENUE or self.find(instrument_id) is not None:
            return
        if is_generic_spread_id(instrument_id):
            legs = generic_spread_id_to_list(instrument_id)
            for leg, _ in legs:
                await self.load_async(leg)
            options = [(self.find(leg), ratio) for leg, ratio in legs]
            if all(isinstance(option, OptionContract) for option, _ in options):
                self.add(option_spread(options, SPREAD_STRUCTURE))
        elif is_option(instrument_id):
            contract = await self._rest.call(self._rest.client.get_option_contract, alpaca_symbol(instrument_id))
            self.add(option_contract(contract, pd.Timestamp.now(tz="UTC").value))
        else:
            self.add(underlying_equity(instrument_id.symbol.value, pd.Timestamp.now(tz="UTC").value))
