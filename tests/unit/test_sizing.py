"""Seed 003's sizes from the signal, at every threshold.

Theta Harvester 1-3 contracts by IV percentile, Gamma Scalper 1-2 by GEX strength.
"""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from odte_nautilus.strategies.sizing import GAMMA_SCALPER_SIZING, THETA_HARVESTER_SIZING, SizeLadder


@pytest.mark.parametrize(
    "iv_percentile, contracts", [(0.0, 1), (49.99, 1), (50.0, 2), (79.99, 2), (80.0, 3), (100.0, 3)]
)
def test_theta_harvester_sells_more_premium_as_iv_gets_rich(iv_percentile, contracts):
    assert THETA_HARVESTER_SIZING.size(iv_percentile) == contracts


@pytest.mark.parametrize("strength, contracts", [(0.0, 1), (1.99, 1), (2.0, 2), (10.0, 2)])
def test_gamma_scalper_buys_more_as_dealer_gamma_gets_shorter(strength, contracts):
    assert GAMMA_SCALPER_SIZING.size(strength) == contracts


@pytest.mark.parametrize("signal", [None, math.nan])
def test_no_signal_trades_the_base_size(signal):
    assert THETA_HARVESTER_SIZING.size(signal) == 1
    assert SizeLadder((50.0, 80.0), (1, 2, 3), base=2).size(signal) == 2


def test_thresholds_are_configurable_and_lists_from_a_config_file_are_accepted():
    # Lists of ints, as a YAML file brings them, where the type says tuples of floats: what this test is about.
    ladder = SizeLadder([30, 60], [1, 2, 3])  # type: ignore[arg-type]
    assert ladder.thresholds == (30.0, 60.0) and ladder.sizes == (1, 2, 3)
    assert [ladder.size(s) for s in (29.9, 30.0, 60.0)] == [1, 2, 3]


@pytest.mark.parametrize(
    "thresholds, sizes, base, message",
    [
        ((50.0,), (1, 2, 3), 1, "one more size"),
        ((80.0, 50.0), (1, 2, 3), 1, "strictly ascending"),
        ((50.0, 50.0), (1, 2, 3), 1, "strictly ascending"),
        ((math.nan,), (1, 2), 1, "finite"),
        ((50.0,), (0, 1), 1, "at least 1"),
        ((50.0,), (1, 2), 0, "at least 1"),
    ],
)
def test_a_malformed_ladder_is_refused(thresholds, sizes, base, message):
    with pytest.raises(ValueError, match=message):
        SizeLadder(thresholds, sizes, base)


@given(st.floats(allow_nan=False))
def test_a_ladder_only_proposes_its_own_sizes(signal):
    assert THETA_HARVESTER_SIZING.size(signal) in THETA_HARVESTER_SIZING.sizes
