"""Exit rules that fit each structure: a short iron butterfly's and a long strangle's, and holding to the flatten.

The seed's four-dimensional stop (``stops.PackageStop``) was written for a long-premium, single-position
system. On a short iron butterfly its 10-point adverse-move stop fired on about 94 % of the default run's
packages (the fly's breakevens are about 17 points away), and its 8-minute no-progress stop closed every
strangle. These rules speak each structure's own terms (the numbers come from ``policy.IronFlyExit`` and
``policy.StrangleExit``; ``docs/decisions/0007-exit-policies.md`` says how they were chosen):

- **Short iron butterfly** (a credit ``C``, a body at strike ``K``, wings ``W`` points out): its maximum loss
  is ``W - C`` and its breakevens are ``K - C`` and ``K + C``.
  - ``stop_loss`` when the cost to close reaches ``C x (1 + loss_credit_multiple)``: the package has lost
    that multiple of its credit. A level at or beyond the wing width ``W`` never fires: the wings cap the loss.
  - ``stop_breakeven`` when the underlying has gone ``breakeven_fraction`` of the way from the body to a
    breakeven (1.0: at the breakeven), either side.
  - ``time_exit`` at a New York wall-clock time (before the EOD flatten), whatever the mark.
- **Long strangle** (a debit ``D``): its thesis is a move large enough to pay for it.
  - ``stop_loss`` when the mark falls to ``D x (1 - loss_debit_fraction)``.
  - ``stop_no_move`` when ``time_stop_minutes`` have passed since the entry and the mark is still below the
    debit: the move has not come.
- **Hold**: no stop; the package is held to the EOD flatten (the closest to expiry the invariants allow)
  unless a take-profit closes it.

Take-profits are the strategy's own (``take_profit_full_pct``/``take_profit_partial_pct`` of the entry
premium: a fraction of the fly's credit, a multiple of the strangle's debit) and run beside any rule here.

Every rule returns the ``ExitKind`` naming it, so the exit it causes carries an explicit kind. ``mark`` is
always a positive magnitude per package (what a long package sells for, what a short one costs to buy
back), as in ``stops.py``; thresholds are inclusive, with the same relative tolerance; a NaN never fires.
Nothing here imports Nautilus.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from odte_nautilus.risk.model import ExitKind
from odte_nautilus.risk.time_units import MINUTE_NS

_TOLERANCE = 1e-9


class ExitRule(Protocol):
    """A package's exit rule, armed at its entry fill: the hard checks on every fresh mark, the slow ones on
    the slow cadence (``stops.PackageStop`` is one too)."""

    def check_hard(self, premium: float, underlying: float, now_ns: int) -> ExitKind | None: ...

    def check_slow(self, premium: float, underlying: float, now_ns: int) -> ExitKind | None: ...


class HoldToFlatten:
    """No stop: the package is held to the EOD flatten (a take-profit may still close it)."""

    __slots__ = ()

    def check_hard(self, premium: float, underlying: float, now_ns: int) -> ExitKind | None:
        return None

    def check_slow(self, premium: float, underlying: float, now_ns: int) -> ExitKind | None:
        return None


@dataclass(frozen=True, slots=True)
class IronFlyLevels:
    """A short iron butterfly's figures at its entry fill: what its exits are measured in."""

    credit: float  # per package, positive
    body: float  # the short strikes
    wing_points: float  # distance from the body to each long wing

    def __post_init__(self) -> None:
        if not 0 < self.credit < self.wing_points:
            raise ValueError(
                f"an iron fly's credit must be positive and below its wing width ({self.wing_points}),"
                f" got {self.credit!r}: otherwise it has no risk or no reward"
            )

    @property
    def max_loss(self) -> float:
        """Per package, in points: the wing width less the credit."""
        return self.wing_points - self.credit

    @property
    def breakevens(self) -> tuple[float, float]:
        return self.body - self.credit, self.body + self.credit


class IronFlyRule:
    """A short iron butterfly's exit: a loss in multiples of its credit, the underlying near a breakeven, a time.

    ``None`` switches a dimension off. Levels are precomputed at entry; the checks compare plain floats.
    """

    __slots__ = ("levels", "_loss_level", "_near_points", "_time_exit_ns")

    def __init__(
        self,
        levels: IronFlyLevels,
        loss_credit_multiple: float | None,
        breakeven_fraction: float | None,
        time_exit_ns: int | None,
    ) -> None:
        if loss_credit_multiple is not None and not loss_credit_multiple > 0:
            raise ValueError(f"loss_credit_multiple must be positive, got {loss_credit_multiple!r}")
        if breakeven_fraction is not None and not 0 < breakeven_fraction <= 2:
            raise ValueError(f"breakeven_fraction must be in (0, 2], got {breakeven_fraction!r}")
        self.levels = levels
        credit = levels.credit
        self._loss_level = (
            None if loss_credit_multiple is None else credit * (1.0 + loss_credit_multiple) * (1.0 - _TOLERANCE)
        )
        self._near_points = None if breakeven_fraction is None else credit * breakeven_fraction - _TOLERANCE
        self._time_exit_ns = time_exit_ns

    def check_hard(self, premium: float, underlying: float, now_ns: int) -> ExitKind | None:
        """The loss first (it names what the package costs), then the underlying near a breakeven."""
        if self._loss_level is not None and premium >= self._loss_level:
            return ExitKind.STOP_LOSS
        if self._near_points is not None and abs(underlying - self.levels.body) >= self._near_points:
            return ExitKind.STOP_BREAKEVEN
        return None

    def check_slow(self, premium: float, underlying: float, now_ns: int) -> ExitKind | None:
        if self._time_exit_ns is not None and now_ns >= self._time_exit_ns:
            return ExitKind.TIME_EXIT
        return None


class StrangleRule:
    """A long strangle's exit: a share of its debit lost, or a time stop when the move it paid for has not come."""

    __slots__ = ("debit", "entry_ns", "_loss_level", "_time_stop_ns")

    def __init__(
        self, debit: float, entry_ns: int, loss_debit_fraction: float | None, time_stop_minutes: float | None
    ) -> None:
        if not debit > 0:
            raise ValueError(f"a strangle's debit must be positive, got {debit!r}")
        if loss_debit_fraction is not None and not 0 < loss_debit_fraction < 1:
            raise ValueError(f"loss_debit_fraction must be in (0, 1), got {loss_debit_fraction!r}")
        if time_stop_minutes is not None and not time_stop_minutes > 0:
            raise ValueError(f"time_stop_minutes must be positive, got {time_stop_minutes!r}")
        self.debit = float(debit)
        self.entry_ns = int(entry_ns)
        self._loss_level = (
            None if loss_debit_fraction is None else self.debit * (1.0 - loss_debit_fraction) * (1.0 + _TOLERANCE)
        )
        self._time_stop_ns = None if time_stop_minutes is None else self.entry_ns + int(time_stop_minutes * MINUTE_NS)

    def check_hard(self, premium: float, underlying: float, now_ns: int) -> ExitKind | None:
        if self._loss_level is not None and premium <= self._loss_level:
            return ExitKind.STOP_LOSS
        return None

    def check_slow(self, premium: float, underlying: float, now_ns: int) -> ExitKind | None:
        """The thesis's clock: past the time stop, a mark still below the debit means the move did not come."""
        if self._time_stop_ns is not None and now_ns >= self._time_stop_ns and premium < self.debit:
            return ExitKind.STOP_NO_MOVE
        return None
