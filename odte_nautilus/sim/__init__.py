"""Broker simulators: real servers on loopback that speak a broker's wire protocol (design decision 14).

The real client libraries (alpaca-py, ib_async) talk to them, so an adapter is tested against the
protocol it will meet in production, and a user can run the whole paper node with no credentials. A
simulator replays a catalog session and fills with the backtest's fill rule, so one session through the
backtest and through the simulated paper node can be compared decision by decision.
"""
