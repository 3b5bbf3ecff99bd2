"""A TWS / IB Gateway simulator: the TWS socket protocol at server version 178, on loopback.

Both the real ib_async client and NautilusTrader's own IB client (the official ``ibapi``) connect to it and
speak the text protocol (binary message ids and protobuf begin at server version 201). It replays one
catalog session of SPX (``odte catalog sample --underlying SPX``) and fills single-leg SPXW orders and BAG
combos with the backtest's far-touch rule (``odte_nautilus.sim.fills``), so the paper node and the watchdog
can be tested and run with no gateway, no credentials and no network but 127.0.0.1 (issue 12, design
decision 14). IB's order-status races are scripted through ``Faults``.

Modules, one job each: ``simulator`` (the handle: server thread, clock steps, control API), ``venue`` (what
connections share), ``session`` (one connection: handshake and requests), ``account`` (its account
subscriptions), ``broker`` (orders, fills, executions, positions, cash, the races), ``records`` (what it
keeps), ``contracts`` (the index and the options as IB describes them), ``marketdata`` (ticks and bars from
the replay), ``incoming`` / ``outgoing`` (message layouts), ``wire`` (framing), ``messages`` (ids),
``faults``, ``control`` (the ``/sim/v1`` HTTP API). The replay, the clock, the fill rule and the loop thread
that steps them are every simulator's (``odte_nautilus.sim.replay``, ``.clock``, ``.fills``, ``.loop``).

    from odte_nautilus.sim.ib import Faults, TwsSimulator

    with TwsSimulator(catalog_path) as sim:           # SPX, manual clock, account DU1234567
        ib = ib_async.IB(); ib.connect(sim.host, sim.port, clientId=1)
        sim.step_minute()                            # replay the next minute's bar and quotes
        sim.faults.unreported_fills = 1              # the next fill happens silently: a modify gets 104
        sim.disconnect_clients()                     # every socket drops; the account remembers
        sim.positions()                              # {"SPXW  240722C05500000": -1, ...}
"""

from odte_nautilus.sim.ib.faults import Faults
from odte_nautilus.sim.ib.simulator import TwsSimulator

__all__ = ["Faults", "TwsSimulator"]
