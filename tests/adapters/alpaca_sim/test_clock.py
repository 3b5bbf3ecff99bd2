# mypy: disable-error-code="union-attr, index"
# (alpaca-py types every answer as its model or a raw dict, for its raw_data switch: these clients return models)
"""The two clocks: manual (tests move it) and compressed (a whole session in wall seconds)."""

import time
from datetime import date

import pytest
from alpaca.data.live.option import OptionDataStream
from alpaca.trading.client import TradingClient

from odte_nautilus.data import catalog_io
from odte_nautilus.data.sample import SampleConfig, build_sample
from odte_nautilus.risk.session import ny_ns
from odte_nautilus.risk.time_units import MINUTE_NS, NS_PER_SECOND
from odte_nautilus.sim.alpaca import AlpacaSimulator
from tests.adapters.alpaca_sim.kit import KEY, SECRET, eventually, running, symbol, trading

WALL_SECONDS = 2.0  # the whole compressed session


def test_the_manual_clock_moves_only_when_told(sim):
    start = sim.now_ns
    time.sleep(0.05)
    assert sim.now_ns == start == sim.session_open_ns
    sim.advance_to(start + 90 * NS_PER_SECOND)
    assert sim.now_ns == start + 90 * NS_PER_SECOND and sim.market.last_bar.ts == start + MINUTE_NS
    sim.advance_to(sim.session_close_ns + MINUTE_NS)  # never past the close
    assert sim.now_ns == sim.session_close_ns and sim.finished
    with pytest.raises(RuntimeError, match="manual"):
        sim.run_clock()


def test_a_compressed_session_replays_every_minute_at_its_speed(catalog):
    speed = catalog_io.catalog_sessions(catalog)[0].session.seconds / WALL_SECONDS
    with AlpacaSimulator(catalog, speed=speed, key=KEY, secret=SECRET).start(run_clock=False) as sim:
        sym = symbol(sim, "C", 555)
        received = []

        async def on_quote(quote):
            received.append(quote.timestamp.timestamp() * NS_PER_SECOND)

        stream = OptionDataStream(KEY, SECRET, url_override=sim.option_stream_url)
        stream.subscribe_quotes(on_quote, sym)
        with running(stream, sim, "options"):
            assert sim.now_ns == sim.session_open_ns  # held until the node is up
            began = time.monotonic()
            sim.run_clock()
            eventually(lambda: sim.finished, WALL_SECONDS * 5, "the session to end")
            took = time.monotonic() - began
            eventually(lambda: len(received) == 390, what="every minute's quote")
        with pytest.raises(RuntimeError, match="compressed"):
            sim.advance_to(sim.session_close_ns)
        clock = trading(sim).get_clock()
    assert WALL_SECONDS * 0.9 <= took <= WALL_SECONDS + 3.0
    assert received == [sim.session_open_ns + (i + 1) * MINUTE_NS for i in range(390)]
    assert not clock.is_open and clock.timestamp.timestamp() * NS_PER_SECOND == sim.session_close_ns


def test_an_early_close_session_closes_and_expires_at_one(tmp_path):
    build_sample(tmp_path, SampleConfig(days=1, underlying="SPY", start=date(2024, 7, 3), strikes_each_side=7))
    with AlpacaSimulator(tmp_path, key=KEY, secret=SECRET) as sim:
        assert sim.session_close_ns == ny_ns(date(2024, 7, 3), 13, 0)
        raw = TradingClient(KEY, SECRET, raw_data=True, url_override=sim.rest_url).get_clock()
        assert raw["next_close"] == "2024-07-03T13:00:00.000000-04:00" and raw["simulator"]["early_close"] is True
        sim.advance_to(ny_ns(date(2024, 7, 3), 16, 0))
        assert sim.finished and sim.now_ns == sim.session_close_ns
