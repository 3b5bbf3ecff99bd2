"""Vendor CSV layouts as data: which column holds what, and how to read times and contracts.

To add a vendor, add one ``CsvLayout`` to ``LAYOUTS`` (catalog/README.md, "Adding a CSV layout"): name the
price and size columns, pick a time rule and a contract rule. Nothing else changes; the importer, the
checks and the catalog writer are shared.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from odte_nautilus.risk.model import OptionRight


@dataclass(frozen=True, slots=True)
class LocalTime:
    """One column of date-times: ISO 8601, New York local unless the text carries an offset."""

    column: str

    def columns(self) -> tuple[str, ...]:
        return (self.column,)


@dataclass(frozen=True, slots=True)
class DateAndMillis:
    """A date column (``date_format``, e.g. ``%Y%m%d``) plus milliseconds since New York midnight."""

    date_column: str
    millis_column: str
    date_format: str = "%Y%m%d"

    def columns(self) -> tuple[str, ...]:
        return (self.date_column, self.millis_column)


@dataclass(frozen=True, slots=True)
class EpochNanos:
    """Integer nanoseconds since the Unix epoch (UTC)."""

    column: str

    def columns(self) -> tuple[str, ...]:
        return (self.column,)


@dataclass(frozen=True, slots=True)
class ContractColumns:
    """The contract spread over columns: root, expiration, strike (times ``strike_scale``), right."""

    root: str
    expiration: str
    strike: str
    right: str
    expiration_format: str | None = None  # None: ISO dates
    strike_scale: float = 1.0
    rights: dict[str, OptionRight] = field(
        default_factory=lambda: {
            "C": OptionRight.CALL,
            "P": OptionRight.PUT,
            "CALL": OptionRight.CALL,
            "PUT": OptionRight.PUT,
        }
    )

    def columns(self) -> tuple[str, ...]:
        return (self.root, self.expiration, self.strike, self.right)


@dataclass(frozen=True, slots=True)
class OccTicker:
    """The contract as one OCC-style ticker (``O:SPXW240315C05100000``, padded or not)."""

    column: str

    def columns(self) -> tuple[str, ...]:
        return (self.column,)


@dataclass(frozen=True, slots=True)
class CsvLayout:
    name: str
    description: str
    bid: str
    ask: str
    bid_size: str
    ask_size: str
    time: LocalTime | DateAndMillis | EpochNanos
    contract: ContractColumns | OccTicker
    open_interest: str | None = None  # used when the column is present

    def required_columns(self) -> tuple[str, ...]:
        return (self.bid, self.ask, self.bid_size, self.ask_size, *self.time.columns(), *self.contract.columns())


LAYOUTS: dict[str, CsvLayout] = {
    layout.name: layout
    for layout in (
        CsvLayout(
            name="cboe",
            description="Cboe DataShop Option Quotes (interval snapshots): quote_datetime New York local",
            bid="bid",
            ask="ask",
            bid_size="bid_size",
            ask_size="ask_size",
            time=LocalTime("quote_datetime"),
            contract=ContractColumns(root="root", expiration="expiration", strike="strike", right="option_type"),
            open_interest="open_interest",
        ),
        CsvLayout(
            name="thetadata",
            description="ThetaData v2 hist/option/quote (bulk): date YYYYMMDD + ms_of_day, strike in 1/10 cent",
            bid="bid",
            ask="ask",
            bid_size="bid_size",
            ask_size="ask_size",
            time=DateAndMillis("date", "ms_of_day"),
            contract=ContractColumns(
                root="root",
                expiration="expiration",
                strike="strike",
                right="right",
                expiration_format="%Y%m%d",
                strike_scale=0.001,
            ),
        ),
        CsvLayout(
            name="massive",
            description="Massive (ex-Polygon) flat files us_options_opra/quotes_v1: sip_timestamp in ns",
            bid="bid_price",
            ask="ask_price",
            bid_size="bid_size",
            ask_size="ask_size",
            time=EpochNanos("sip_timestamp"),
            contract=OccTicker("ticker"),
        ),
    )
}
