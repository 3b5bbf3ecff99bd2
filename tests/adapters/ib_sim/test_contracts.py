"""Contracts as ib_async qualifies them: the SPX index, SPXW options of the replayed expiry, the chain."""

from decimal import Decimal

import ib_async as ibi

from odte_nautilus.sim.ib import TwsSimulator
from tests.adapters.ib_sim.kit import atm_strike, connected, option


def test_the_index_and_spxw_options_qualify_as_on_a_real_gateway(sim):
    k = atm_strike(sim)
    day = f"{sim.trading_date:%y%m%d}"
    with connected(sim) as ib:
        spx, call, put = ib.qualifyContracts(ibi.Index("SPX", "CBOE"), option(sim, "C", k), option(sim, "P", k))
        assert spx is not None and call is not None and put is not None
        by_root = ib.qualifyContracts(ibi.Option("SPXW", call.lastTradeDateOrContractMonth, k, "C", "SMART"))[0]
        assert by_root is not None
    assert (spx.conId, spx.secType, spx.exchange) == (416904, "IND", "CBOE")
    assert call.localSymbol == f"SPXW  {day}C{k * 1000:08d}" and put.localSymbol == f"SPXW  {day}P{k * 1000:08d}"
    assert (call.tradingClass, call.multiplier, call.exchange, call.currency) == ("SPXW", "100", "SMART", "USD")
    assert by_root.conId == call.conId != put.conId


def test_conids_are_the_same_in_every_run(catalog, sim):
    k = atm_strike(sim)
    with connected(sim) as ib:
        first = ib.qualifyContracts(option(sim, "C", k))[0].conId
    with TwsSimulator(catalog) as again, connected(again) as ib:
        assert ib.qualifyContracts(option(again, "C", k))[0].conId == first


def test_a_strike_the_session_does_not_list_qualifies_as_nothing(sim):
    with connected(sim) as ib:
        assert ib.qualifyContracts(option(sim, "C", atm_strike(sim) + 3)) == [None]


def test_an_expiry_alone_lists_the_whole_chain_with_its_session_hours(sim):
    expiry = f"{sim.trading_date:%Y%m%d}"
    with connected(sim) as ib:
        details = ib.reqContractDetails(ibi.Contract(secType="OPT", symbol="SPX", lastTradeDateOrContractMonth=expiry))
    assert len(details) == len(sim.market.contracts) == 82
    assert {f"{d.contract.localSymbol}.CBOE" for d in details if d.contract} == set(sim.market.contracts)
    facts = {(d.underConId, d.underSecType, d.minTick, d.timeZoneId) for d in details}
    assert facts == {(416904, "IND", 0.05, "US/Eastern")}
    assert {d.tradingHours for d in details} == {f"{expiry}:0930-{expiry}:1600"}


def test_sec_def_opt_params_lists_spxw_on_smart_and_cboe(sim):
    with connected(sim) as ib:
        chains = ib.reqSecDefOptParams("SPX", "", "IND", 416904)
    spxw = {c.exchange: c for c in chains if c.tradingClass == "SPXW"}
    assert set(spxw) == {"SMART", "CBOE"}
    assert spxw["SMART"].expirations == [f"{sim.trading_date:%Y%m%d}"] and spxw["SMART"].multiplier == "100"
    strikes = sorted({c.strike for c in sim.market.contracts.values()})
    assert sorted(Decimal(str(s)) for s in spxw["CBOE"].strikes) == strikes
    assert {c.tradingClass for c in chains} == {"SPXW", "SPX"}
