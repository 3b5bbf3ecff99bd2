"""IB's races and failures, scripted: plain fields a test sets, changeable while the simulator runs.

Each reproduces something a real gateway does that a node must survive without a position it does not know
about (issue 12; the project's broker notes, IB order-status races). Counters count down as they fire, so
``faults.unreported_fills = 1`` scripts exactly the next fill.

- ``unreported_fills``: the order fills "at the exchange" (positions and cash move, ``reqExecutions`` and
  ``reqPositions`` tell the truth) but nothing is sent: the client still sees it working. A modify
  (``placeOrder`` with its id) then gets ``error 104`` "Can't modify a filled order.", an ``orderStatus
  Cancelled`` with nothing filled (``cancelled_after_104``), and only then the executions, commission reports
  and ``orderStatus Filled`` (seed 000's phantom position). A cancel gets ``orderStatus Cancelled`` (a
  premature confirmation), ``error 10148`` "... cannot be cancelled, state: Filled.", then the executions and
  ``orderStatus Filled``; a later cancel of that id gets ``error 10147``. With neither, the fill is reported
  ``unreported_steps`` replayed steps later.
- ``fill_on_cancel``: the next cancels (``cancelOrder`` or ``reqGlobalCancel``) of a working order lose the
  race to a fill: the order fills just before the cancel arrives (at the far touch when marketable, else at
  its limit) and the cancel gets the 10148 sequence above.
- ``late_executions``: the fill's status goes out at once, its executions and commission reports
  ``late_steps`` replayed steps later.
- ``duplicate_executions``: every ``execDetails`` of the fill is sent twice (same execId).
- ``legs_only_executions``: a combo's fill is reported by its legs' executions alone, no BAG execution
  (``reqExecutions`` still lists it).
- ``reject_next``: the next orders, or modifies, are refused with ``error 201`` (a refused modify leaves the
  order working as it was, as ib_insync #502 saw).
- ``pacing``: request name -> N: the Nth next request of that kind is refused, ``error 162`` for
  ``reqHistoricalData``, ``error 100`` for any other (names as the TWS API's: ``reqMktData``,
  ``reqContractDetails``, ``reqSecDefOptParams``, ``placeOrder`` (a new order or a modify) ...).
- ``disconnect_at``: simulated times (UTC ns) at which every client socket is dropped; orders, positions and
  executions survive and a reconnecting client's requests tell the truth.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(slots=True)
class Faults:
    partial_fill: float | None = None
    """Fill this fraction of an order first (at least one package, never all); the rest on a later step."""
    reject_next: int = 0
    reject_reason: str = "rejected by the simulator"
    unreported_fills: int = 0
    unreported_steps: int = 1
    cancelled_after_104: bool = True
    fill_on_cancel: int = 0
    late_executions: int = 0
    late_steps: int = 1
    duplicate_executions: int = 0
    legs_only_executions: int = 0
    pacing: dict[str, int] = field(default_factory=dict)
    disconnect_at: tuple[int, ...] = ()

    def paced(self, request: str) -> bool:
        """Count a request against ``pacing``; true when this is the one to refuse."""
        left = self.pacing.get(request)
        if left is None:
            return False
        if left > 1:
            self.pacing[request] = left - 1
            return False
        del self.pacing[request]
        return True

    def take(self, name: str) -> bool:
        """Use up one of a counted fault (``unreported_fills`` ...); true when it fires."""
        left = getattr(self, name)
        if left <= 0:
            return False
        setattr(self, name, left - 1)
        return True
