"""The simulated venue's contracts as IB describes them: the SPX index and the session's SPXW options.

IB names the index ``Index('SPX', 'CBOE')``, conId 416904, and each option by its OCC local symbol (root padded
to 6: ``SPXW  240722C05500000``), trading class SPXW, multiplier 100, on SMART and CBOE. The catalog's
instrument ids are that local symbol at venue CBOE, so an option's replay key is its catalog id. conIds of
options are derived from the local symbol (CRC-32), so they are the same in every run and after a restart.

``find`` answers ``reqContractDetails`` the way TWS matches a partial contract: every field the client set
must agree, the empty ones match anything (so an expiry alone lists the day's chain, as Nautilus's
``build_options_chain`` asks). ``details`` writes the version-178 ``contractData`` fields, with the trading
hours of the replayed session so Nautilus reads the option's expiry as the session's close.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from odte_nautilus.data.symbology import occ_symbol
from odte_nautilus.risk.session import NEW_YORK, SessionWindow
from odte_nautilus.risk.time_units import NS_PER_SECOND
from odte_nautilus.sim.ib.wire import Value
from odte_nautilus.sim.replay import Market

INDEX_CONID = 416904
BAG_CONID = 28812380  # the conId IB reports on a USD combo's own executions
OPTION_CONIDS = (500_000_000, 400_000_000)  # options' conIds: base + CRC-32 of the local symbol modulo span
EXCHANGES = ("SMART", "CBOE")
INDEX_EXCHANGE = "CBOE"
CURRENCY = "USD"
MULTIPLIER = 100
OPTION_TICK = Decimal("0.05")
INDEX_TICK = Decimal("0.01")
TIME_ZONE = "US/Eastern"
ORDER_TYPES = "ACTIVETIM,AD,ADJUST,ALERT,ALLOC,COND,CONDORDER,DAY,DEACT,GAT,GTC,GTD,IOC,LMT,MKT,NONALGO,OCA"


@dataclass(frozen=True, slots=True)
class IbContract:
    con_id: int
    symbol: str
    sec_type: str  # IND, OPT or BAG
    expiry: str  # YYYYMMDD, "" for the index and a combo
    strike: Decimal
    right: str  # C, P or ""
    multiplier: str
    local_symbol: str
    trading_class: str
    key: str | None = None  # the replay's key (the catalog's instrument id) of an option

    def fields(self, exchange: str) -> list[Value]:
        """conId .. tradingClass as ``execDetails``, ``openOrder`` and ``position`` write a contract."""
        return [
            self.con_id,
            self.symbol,
            self.sec_type,
            self.expiry,
            self.strike,
            self.right,
            self.multiplier,
            exchange,
            CURRENCY,
            self.local_symbol,
            self.trading_class,
        ]


BAG = IbContract(BAG_CONID, "SPX", "BAG", "", Decimal(0), "", "", "", "")


@dataclass(frozen=True, slots=True)
class Spec:
    """A contract as a client describes it (the 12 fields every request writes)."""

    con_id: int = 0
    symbol: str = ""
    sec_type: str = ""
    expiry: str = ""
    strike: Decimal | None = None
    right: str = ""
    multiplier: str = ""
    exchange: str = ""
    primary_exchange: str = ""
    currency: str = ""
    local_symbol: str = ""
    trading_class: str = ""


class Chain:
    """The index and the session's options, found by conId, by replay key and by partial description."""

    def __init__(self, market: Market) -> None:
        if market.underlying != "^SPX":
            raise ValueError(f"the IB simulator lists SPX and SPXW options only, not {market.underlying}")
        self.session = market.session
        self.index = IbContract(INDEX_CONID, "SPX", "IND", "", Decimal(0), "", "", "SPX", "SPX")
        self.by_key: dict[str, IbContract] = {}
        for c in market.contracts.values():
            local = occ_symbol(c.root, c.expiry, c.right, float(c.strike))
            strike = c.strike
            self.by_key[c.symbol] = IbContract(
                _con_id(local),
                "SPX",
                "OPT",
                f"{c.expiry:%Y%m%d}",
                strike,
                c.right.value,
                str(MULTIPLIER),
                local,
                c.root,
                c.symbol,
            )
        self.by_con_id = {c.con_id: c for c in self.by_key.values()} | {INDEX_CONID: self.index}
        if len(self.by_con_id) != len(self.by_key) + 1:
            raise ValueError("two options of the session share a conId: widen OPTION_CONIDS")

    def get(self, con_id: int) -> IbContract | None:
        return self.by_con_id.get(con_id)

    def find(self, spec: Spec) -> list[IbContract]:
        """Every contract the description fits (none when a field names something the venue lacks)."""
        if spec.con_id:
            found = self.by_con_id.get(spec.con_id)
            return [found] if found is not None and _fits(found, spec) else []
        return [c for c in self.by_con_id.values() if _fits(c, spec)]

    def exchange(self, contract: IbContract, asked: str) -> str:
        """The exchange a description asked for, as the answer echoes it (SMART when it asked for none)."""
        if contract.sec_type == "IND":
            return INDEX_EXCHANGE
        return asked if asked in EXCHANGES else "SMART"

    def details(self, contract: IbContract, exchange: str) -> list[Value]:
        """``contractData`` after its request id, server version 178 (size rules, no version field)."""
        option = contract.sec_type == "OPT"
        day = self.session.trading_date
        hours = _trading_hours(self.session)
        return [
            contract.symbol,
            contract.sec_type,
            contract.expiry,
            contract.strike,
            contract.right,
            exchange,
            CURRENCY,
            contract.local_symbol,
            contract.trading_class,  # marketName
            contract.trading_class,
            contract.con_id,
            OPTION_TICK if option else INDEX_TICK,
            contract.multiplier,
            ORDER_TYPES if option else "",
            ",".join(EXCHANGES) if option else INDEX_EXCHANGE,
            1,  # priceMagnifier
            INDEX_CONID if option else 0,  # underConId
            "S&P 500 Stock Index",
            INDEX_EXCHANGE,  # primaryExchange: Nautilus's venue for a contract on SMART
            f"{day:%Y%m}" if option else "",
            "",  # industry
            "",  # category
            "",  # subcategory
            TIME_ZONE,
            hours,
            hours,  # liquidHours
            "",  # evRule
            "",  # evMultiplier
            0,  # secIdList
            2 if option else 0,  # aggGroup
            "SPX" if option else "",  # underSymbol
            "IND" if option else "",  # underSecType
            "",  # marketRuleIds
            contract.expiry,  # realExpirationDate
            "",  # stockType
            1,  # minSize
            1,  # sizeIncrement
            1,  # suggestedSizeIncrement
        ]

    def option_parameters(self) -> list[tuple[str, str, list[str], list[Decimal]]]:
        """``reqSecDefOptParams`` rows: (exchange, trading class, expirations, strikes). SPXW lists the
        session's expiry; SPX (AM-settled monthlies) lists its next monthly expiry, which the simulator has
        no contracts for (never 0DTE-tradable)."""
        strikes = sorted({c.strike for c in self.by_key.values()})
        expiries = sorted({c.expiry for c in self.by_key.values()})
        monthly = _third_friday(self.session.trading_date)
        rows = []
        for exchange in EXCHANGES:
            rows.append((exchange, "SPXW", expiries, strikes))
            rows.append((exchange, "SPX", [f"{monthly:%Y%m%d}"], strikes))
        return rows


def _con_id(local_symbol: str) -> int:
    base, span = OPTION_CONIDS
    return base + zlib.crc32(local_symbol.encode()) % span


def _fits(contract: IbContract, spec: Spec) -> bool:
    option = contract.sec_type == "OPT"
    symbols = {"SPX", contract.trading_class} if option else {"SPX"}
    exchanges = (*EXCHANGES, "") if option else (INDEX_EXCHANGE, "")
    series = (  # an index has no expiry, strike or right: TWS ignores them (Nautilus pins an expiry on it)
        (not spec.expiry or contract.expiry.startswith(spec.expiry))
        and (not spec.strike or spec.strike == contract.strike)
        and (not spec.right or spec.right[0] == contract.right)
        and (not spec.multiplier or spec.multiplier == contract.multiplier)
    )
    return (
        (not spec.sec_type or spec.sec_type == contract.sec_type)
        and (not spec.symbol or spec.symbol in symbols)
        and (series or not option)
        and spec.exchange in exchanges
        and (not spec.currency or spec.currency == CURRENCY)
        and (not spec.local_symbol or spec.local_symbol == contract.local_symbol)
        and (not spec.trading_class or spec.trading_class == contract.trading_class)
    )


def _trading_hours(session: SessionWindow) -> str:
    """``20240722:0930-20240722:1600``: one session, so its close is the expiry Nautilus reads."""

    def at(ts_ns: int) -> str:
        return datetime.fromtimestamp(ts_ns / NS_PER_SECOND, tz=NEW_YORK).strftime("%Y%m%d:%H%M")

    return f"{at(session.open_ns)}-{at(session.close_ns)}"


def _third_friday(day: date) -> date:
    """The next AM-settled monthly expiry on or after ``day``."""
    first = day.replace(day=1)
    friday = first.replace(day=1 + (4 - first.weekday()) % 7 + 14)
    if friday >= day:
        return friday
    following = (first + timedelta(days=32)).replace(day=1)
    return following.replace(day=1 + (4 - following.weekday()) % 7 + 14)
