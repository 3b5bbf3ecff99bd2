"""Faults a broker can throw, injected per run and changeable while the simulator runs.

The node must survive every one of them without a position it does not know about (issue 10), so each is a
plain field a test sets: counters count down as they fire, and ``drop_streams_at`` / ``restart_at`` fire
when the simulated clock passes them (a compressed session can schedule a whole day's faults up front).
``AlpacaSimulator.drop_streams()`` and ``restart()`` do the same on demand.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(slots=True)
class Faults:
    partial_fill: float | None = None
    """Fill this fraction of an order first (at least one package, never all); the rest on a later quote."""
    reject_next: int = 0
    """Reject the next N orders with ``reject_reason``."""
    reject_reason: str = "order rejected by the simulator"
    reject_on_stream: bool = False
    """False: a 403 (code 40310000, the reason as message) at submit, no order made. True: the submit is
    accepted (200) and a ``rejected`` trade update follows, as when the venue refuses the order."""
    throttle_next: int = 0
    """Answer the next N REST requests 429 (a storm, whatever the per-minute budget)."""
    duplicate_next: int = 0
    """Send each of the next N trade updates twice."""
    delay_next: int = 0
    """Hold each of the next N trade updates until after the one that follows it (or the next clock step)."""
    drop_streams_at: tuple[int, ...] = ()
    """Simulated times (UTC ns) at which every websocket is dropped."""
    restart_at: tuple[int, ...] = ()
    """Simulated times (UTC ns) at which the broker restarts: sockets drop, orders and positions survive."""
