"""Nautilus instruments for a 0DTE chain: the underlying, the options, and their tick scheme.

Glue (design §2): the only data module that builds Nautilus instrument objects. Two Nautilus
traps are handled here (docs/market-facts.md, "Instruments"):

- ``register_tick_scheme`` raises when the name exists, and an instrument naming an unregistered scheme
  raises KeyError: ``ensure_tick_scheme`` registers idempotently, before any instrument is built;
- the ParquetDataCatalog drops ``tick_scheme_name`` on the way back: ``decode_options`` names it in the
  rows before decoding, ``load_option_instruments`` and ``with_tick_scheme`` re-attach it afterwards, so a
  backtest always sees the $0.05/$0.10 grid.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pyarrow as pa
from nautilus_trader.model.currencies import USD
from nautilus_trader.model.enums import AssetClass, OptionKind
from nautilus_trader.model.identifiers import InstrumentId, Symbol
from nautilus_trader.model.instruments import Equity, IndexInstrument, OptionContract
from nautilus_trader.model.objects import Price, Quantity
from nautilus_trader.model.tick_scheme import TieredTickScheme, register_tick_scheme
from nautilus_trader.model.tick_scheme.base import get_tick_scheme
from nautilus_trader.serialization.arrow.serializer import ArrowSerializer

from odte_nautilus.data.symbology import OptionKey, occ_symbol, parse_option_id
from odte_nautilus.data.ticks import TickScheme
from odte_nautilus.data.underlyings import UnderlyingSpec, underlying_spec
from odte_nautilus.risk.model import OptionRight
from odte_nautilus.risk.session import SessionWindow

if TYPE_CHECKING:
    from nautilus_trader.persistence.catalog import ParquetDataCatalog

_KIND = {OptionRight.CALL: OptionKind.CALL, OptionRight.PUT: OptionKind.PUT}


def ensure_tick_scheme(scheme: TickScheme) -> str:
    """Register ``scheme`` with Nautilus once per process; return its name."""
    try:
        get_tick_scheme(scheme.name)
    except KeyError:
        register_tick_scheme(
            TieredTickScheme(
                name=scheme.name,
                tiers=[tuple(t) for t in scheme.tiers],
                price_precision=scheme.price_precision,
                max_ticks_per_tier=100_000,
            ),
        )
    return scheme.name


def underlying_instrument(spec: UnderlyingSpec, ts_ns: int) -> IndexInstrument | Equity:
    """The index (``^SPX.CBOE``) or ETF (``SPY.SMART``) the options settle against."""
    increment = Price(10**-spec.underlying_price_precision, spec.underlying_price_precision)
    iid = InstrumentId.from_str(spec.underlying_id)
    if spec.is_index:
        return IndexInstrument(
            iid,
            Symbol(spec.symbol),
            USD,
            spec.underlying_price_precision,
            0,
            increment,
            Quantity.from_int(1),
            ts_ns,
            ts_ns,
        )
    return Equity(
        iid, Symbol(spec.symbol), USD, spec.underlying_price_precision, increment, Quantity.from_int(1), ts_ns, ts_ns
    )


def option_contract(
    spec: UnderlyingSpec,
    key: OptionKey,
    expiration_ns: int,
    ts_ns: int,
    multiplier: int | None = None,
) -> OptionContract:
    """An option of ``spec`` under the project's (IB) id, with its tick scheme attached.

    ``expiration_ns`` comes from ``UnderlyingSpec.expiration_ns`` (the session close for PM-settled roots);
    importers pass the multiplier the vendor file said, so a wrong one is refused by the checks rather
    than silently overwritten.
    """
    precision = spec.ticks.price_precision
    return OptionContract(
        instrument_id=InstrumentId.from_str(spec.option_id(key.expiry, key.right, key.strike, key.root)),
        raw_symbol=Symbol(occ_symbol(key.root, key.expiry, key.right, key.strike)),
        asset_class=AssetClass.INDEX if spec.is_index else AssetClass.EQUITY,
        currency=USD,
        price_precision=precision,
        price_increment=Price(spec.ticks.min_increment, precision),
        multiplier=Quantity.from_int(spec.multiplier if multiplier is None else multiplier),
        lot_size=Quantity.from_int(1),
        underlying=spec.symbol,
        option_kind=_KIND[key.right],
        strike_price=Price(key.strike, precision),
        activation_ns=min(ts_ns, expiration_ns),
        expiration_ns=expiration_ns,
        ts_event=ts_ns,
        ts_init=ts_ns,
        exchange=spec.exchange_mic,
        tick_scheme_name=ensure_tick_scheme(spec.ticks),
        info={"trading_class": key.root, "exercise_style": spec.exercise.value, "settlement": spec.settlement.value},
    )


def session_option(spec: UnderlyingSpec, session: SessionWindow, right: OptionRight, strike: float) -> OptionContract:
    """A 0DTE option of the PM-settled root expiring at ``session``'s close."""
    key = OptionKey(spec.option_root, session.trading_date, right, strike)
    return option_contract(spec, key, session.close_ns, session.open_ns)


def with_tick_scheme(option: OptionContract) -> OptionContract:
    """The option with its tick scheme re-attached (the catalog returns ``tick_scheme_name=None``)."""
    if option.tick_scheme_name is not None:
        return option
    scheme = underlying_spec(parse_option_id(option.id.value).root).ticks
    ensure_tick_scheme(scheme)
    return OptionContract.from_dict({**OptionContract.to_dict(option), "tick_scheme_name": scheme.name})


def decode_options(table: pa.Table) -> list[OptionContract]:
    """A catalog table of option definitions decoded with their tick scheme named in each row.

    Naming it before decoding costs ~10 ms for a day's 162 options; re-attaching it afterwards
    (``with_tick_scheme``, a dict round trip per option) cost ~150 ms, the largest part of a day's read.
    """
    roots = [parse_option_id(iid).root for iid in table.column("id").to_pylist()]
    schemes = {root: ensure_tick_scheme(underlying_spec(root).ticks) for root in set(roots)}
    names = pa.array([schemes[root] for root in roots])
    return ArrowSerializer.deserialize(OptionContract, table.append_column("tick_scheme_name", names))


def load_option_instruments(
    catalog: ParquetDataCatalog, instrument_ids: list[str] | None = None
) -> list[OptionContract]:
    """The catalog's option contracts, with their tick scheme re-attached. Use this, not ``catalog.instruments``."""
    options = catalog.instruments(instrument_type=OptionContract, instrument_ids=instrument_ids)
    return [with_tick_scheme(o) for o in options]
