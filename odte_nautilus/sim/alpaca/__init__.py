"""An Alpaca-compatible broker simulator: REST and websockets on loopback, as alpaca-py 0.44 speaks them.

It replays one catalog session (``odte catalog sample --underlying SPY``) and fills ``mleg`` and single-leg
option orders with the backtest's fill rule, so the real alpaca-py clients, and the paper node built on
them, can be tested and run with no credentials and no network but 127.0.0.1 (issue 10, design decision 14).

Modules, one job each: ``simulator`` (the handle: server thread, clock steps, restart), ``rest`` (HTTP
routes), ``streams`` (websockets), ``broker`` (orders, fills, positions), ``model`` (state and its wire
shape), ``entry`` (order bodies read and refused), ``fills`` (the fill rule), ``market`` (the replayed
catalog session), ``clock`` (manual or compressed time), ``faults``, ``ratelimit``, ``symbols`` (Alpaca's
OCC symbols <-> catalog ids), ``wire`` (error codes, decimals, times).

    from odte_nautilus.sim.alpaca import AlpacaSimulator, Faults

    with AlpacaSimulator(catalog_path, underlying="SPY") as sim:
        TradingClient(sim_key, sim_secret, url_override=sim.rest_url)
        sim.step_minute()
"""

from odte_nautilus.sim.alpaca.faults import Faults
from odte_nautilus.sim.alpaca.simulator import AlpacaSimulator

__all__ = ["AlpacaSimulator", "Faults"]
