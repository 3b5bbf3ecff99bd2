"""An Alpaca-compatible broker simulator: REST and websockets on loopback, as alpaca-py 0.44 speaks them.

It replays one catalog session (``odte catalog sample --underlying SPY``) and fills ``mleg`` and single-leg
option orders with the backtest's fill rule, so the real alpaca-py clients, and the paper node built on
them, can be tested and run with no credentials and no network but 127.0.0.1 (issue 10, design decision 14).

Modules, one job each: ``simulator`` (the handle: server thread, clock steps, restart), ``rest`` (HTTP
routes), ``streams`` (websockets), ``broker`` (orders, fills, positions), ``model`` (state and its wire
shape), ``entry`` (order bodies read and refused), ``clock`` (the simulated time on Alpaca's wire), ``faults``,
``ratelimit``, ``symbols`` (Alpaca's OCC symbols <-> catalog ids, asset ids), ``wire`` (error codes, decimals,
times). The replayed catalog session, the clock, the fill rule and the loop thread that steps them are
every simulator's (``odte_nautilus.sim.replay``, ``.clock``, ``.fills``, ``.loop``); the replay is keyed by
Alpaca's symbols here.

    from odte_nautilus.sim.alpaca import AlpacaSimulator, Faults

    with AlpacaSimulator(catalog_path, underlying="SPY", faults=Faults(partial_fill=0.5)) as sim:
        client = TradingClient("sim-key", "sim-secret", url_override=sim.rest_url)
        stream = TradingStream("sim-key", "sim-secret", url_override=sim.trade_stream_url)
        sim.step_minute()              # manual clock: replay the next minute's bar and quotes
        sim.faults.reject_next = 1     # faults change while it runs
        sim.restart()                  # orders, positions and cash survive; sockets drop

Trade updates of an mleg order: ``new``; per execution one ``fill``/``partial_fill`` per leg (the leg's own
order, price, contracts, ``position_qty``), then the parent's (its legs nested, the signed net per package);
``replaced`` (old) then ``new`` (replacement); ``canceled``; ``expired`` at the close; ``rejected``.
"""

from odte_nautilus.sim.alpaca.faults import Faults
from odte_nautilus.sim.alpaca.simulator import AlpacaSimulator

__all__ = ["AlpacaSimulator", "Faults"]
