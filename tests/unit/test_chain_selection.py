"""Chain selection: the ATM strike, offsets snapped to listed strikes, and all-or-nothing packages.

The iron butterfly must never come back without its wings (design §6: no naked short, ever).
"""

from __future__ import annotations

import pytest

from odte_nautilus.risk.model import OptionRight
from odte_nautilus.strategies.chain import ChainLink, OptionChain
from tests.kit import contract, iron_butterfly, long_strangle, ny_ns

NOISE = (0.0, -3e-12, 3e-12)  # a spot computed from prices carries a few ulps of float noise: still a tie
GRID = tuple(float(k) for k in range(5050, 5155, 5))  # 5050..5150 every 5 points


def chain_of(strikes=GRID, *, without: tuple[tuple[str, float], ...] = ()) -> OptionChain:
    """An SPX chain of calls and puts at ``strikes`` (ids and expiry as the kit's), minus ``without``."""
    links = [
        ChainLink(contract(right, k).instrument_id, OptionRight(right), k)
        for k in strikes
        for right in ("C", "P")
        if (right, k) not in without
    ]
    return OptionChain("SPX", ny_ns(16, 0), links)


# -- the strikes and the ATM ---------------------------------------------------------------------------------


def test_strikes_are_the_sorted_union_of_both_sides():
    chain = chain_of((5110.0, 5100.0), without=(("P", 5110.0),))
    assert chain.strikes == (5100.0, 5110.0)
    assert chain.call(5110.0) is not None and chain.put(5110.0) is None


@pytest.mark.parametrize("spot, atm", [(5101.0, 5100.0), (5102.4, 5100.0), (5102.6, 5105.0), (5104.9, 5105.0)])
def test_atm_is_the_nearest_listed_strike(spot, atm):
    assert chain_of().atm_strike(spot) == atm


@pytest.mark.parametrize("noise", NOISE)
def test_atm_halfway_between_two_strikes_goes_to_the_lower(noise):
    assert chain_of().atm_strike(5102.5 + noise) == 5100.0


def test_atm_beyond_the_listed_range_is_the_edge_strike_and_an_empty_chain_has_none():
    assert chain_of().atm_strike(4000.0) == 5050.0
    assert chain_of().atm_strike(6000.0) == 5150.0
    assert OptionChain("SPX", 0, []).atm_strike(5100.0) is None


@pytest.mark.parametrize("spot", [5100.0, 5101.0, 5104.999, 5049.0, 5151.0, 5110.0, 5112.0])
def test_nearest_otm_is_the_lowest_call_at_or_above_spot_and_the_highest_put_at_or_below(spot):
    """The same pair the chain's walk strike by strike gives, a side's missing strikes skipped."""
    chain = chain_of(without=(("C", 5105.0), ("P", 5110.0)))
    call = next((link for k in chain.strikes if k >= spot and (link := chain.call(k))), None)
    put = next((link for k in reversed(chain.strikes) if k <= spot and (link := chain.put(k))), None)
    assert chain.nearest_otm(spot) == (call, put)


def test_call_and_put_lookup_by_strike_and_none_when_absent():
    chain = chain_of(without=(("C", 5120.0),))
    put = chain.put(5120.0)
    assert put is not None and put.instrument_id == contract("P", 5120).instrument_id
    assert chain.call(5120.0) is None
    assert chain.call(5121.0) is None


def test_two_contracts_of_one_right_at_one_strike_are_refused_naming_both():
    links = [ChainLink("A.CBOE", OptionRight.CALL, 5100.0), ChainLink("B.CBOE", OptionRight.CALL, 5100.0)]
    with pytest.raises(ValueError, match=r"'A\.CBOE' and 'B\.CBOE'"):
        OptionChain("SPX", 0, links)


# -- offsets -------------------------------------------------------------------------------------------------


def test_offsets_snap_to_the_nearest_listed_strike():
    chain = chain_of()
    assert chain.strike_at_offset(5101.0, 20.0, OptionRight.CALL) == 5120.0  # target 5121
    assert chain.strike_at_offset(5101.0, 20.0, OptionRight.PUT) == 5080.0  # target 5081
    assert chain.strike_at_offset(5101.0, 23.0, OptionRight.CALL) == 5125.0  # target 5124


def test_an_offset_only_snaps_to_strikes_listed_on_its_side():
    chain = chain_of(without=(("C", 5120.0), ("C", 5125.0)))
    assert chain.strike_at_offset(5100.0, 21.0, OptionRight.CALL) == 5115.0
    assert chain.strike_at_offset(5100.0, 21.0, OptionRight.PUT) == 5080.0


@pytest.mark.parametrize("noise", NOISE)
def test_an_offset_tie_goes_further_out_of_the_money(noise):
    chain = chain_of()
    assert chain.strike_at_offset(5100.0 + noise, 2.5, OptionRight.CALL) == 5105.0
    assert chain.strike_at_offset(5100.0 + noise, 2.5, OptionRight.PUT) == 5095.0


# -- the iron butterfly --------------------------------------------------------------------------------------


def test_iron_butterfly_is_short_the_atm_straddle_long_both_wings():
    legs = chain_of().iron_butterfly(5101.0, 20.0)
    assert legs == iron_butterfly(center=5100, wing=20)
    assert [leg.ratio for leg in legs] == [-1, -1, 1, 1]


@pytest.mark.parametrize("missing", [("C", 5120.0), ("P", 5080.0), ("P", 5100.0), ("C", 5100.0)])
def test_iron_butterfly_with_any_contract_missing_is_no_package(missing):
    assert chain_of(without=(missing,)).iron_butterfly(5101.0, 20.0) is None


def test_iron_butterfly_wings_are_exact_never_snapped():
    """A 7-point wing on a 5-point grid is not listed: snapping would change the package's open risk."""
    assert chain_of().iron_butterfly(5101.0, 7.0) is None


def test_iron_butterfly_wings_beyond_the_chain_are_no_package():
    assert chain_of().iron_butterfly(5140.0, 20.0) is None


def test_iron_butterfly_refuses_a_non_positive_wing():
    with pytest.raises(ValueError, match="wing_points"):
        chain_of().iron_butterfly(5101.0, 0.0)


# -- the strangle --------------------------------------------------------------------------------------------


def test_strangle_is_long_an_otm_call_and_an_otm_put():
    assert chain_of().strangle(5101.0, 20.0, 20.0) == long_strangle(call=5120, put=5080)


def test_strangle_offsets_are_independent_per_side():
    legs = chain_of().strangle(5100.0, 10.0, 30.0)
    assert legs is not None
    assert [(leg.contract.right, leg.contract.strike) for leg in legs] == [
        (OptionRight.CALL, 5110.0),
        (OptionRight.PUT, 5070.0),
    ]


def test_strangle_whose_strike_snaps_in_the_money_is_no_package():
    sparse = chain_of((5050.0, 5100.0, 5150.0))
    assert sparse.strangle(5110.0, 5.0, 5.0) is None  # the call target 5115 snaps to 5100, below spot


def test_strangle_missing_a_side_is_no_package():
    puts_gone = tuple(("P", k) for k in GRID)
    assert chain_of(without=puts_gone).strangle(5101.0, 20.0, 20.0) is None


def test_legs_carry_the_chains_underlying_expiry_and_multiplier():
    link = ChainLink("X.CBOE", OptionRight.CALL, 500.0)
    chain = OptionChain("SPY", 123, [link], multiplier=10)
    c = chain.contract(link)
    assert (c.instrument_id, c.underlying, c.right, c.strike, c.expiry_ns, c.multiplier) == (
        "X.CBOE",
        "SPY",
        OptionRight.CALL,
        500.0,
        123,
        10,
    )
