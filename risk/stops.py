"""Seed 000's four-dimensional stop: premium, adverse underlying move, no progress, IV crush.

Seed 000: "option premium -35 %, adverse SPX move 10 points, 8 minutes without 5 points of progress, and an
IV-crush detector (premium -20 % while SPX barely moves) - hard dimensions checked every 100 ms, slow ones
every 5 seconds". One :class:`PackageStop` is created per package at its entry fill; the strategy's 100 ms
timer calls :meth:`PackageStop.check_hard` and its 5 s timer :meth:`PackageStop.check_slow`. A trigger is
returned as the :class:`ExitKind` naming its dimension, so the exit it causes carries an explicit kind (the
orphaned-contracts incident: never infer why a package is closing).

The seed's system bought premium; the Theta Harvester sells it (an iron butterfly), so every dimension is
defined for both directions (numbers are the defaults of ``policy.FourDimensionalStop``):

- premium (hard). Long: mark <= entry debit x (1 - 35 %). Short: cost to close >= entry credit x (1 + 35 %).
- adverse move (hard). Long: with a bias of +/-1, the signed move against the bias >= 10 points; neutral,
  never (any move helps a long strangle). Short: neutral, |move| >= 10 points; with a bias, the signed move
  against it >= 10 points.
- no progress (slow). Long: 8 minutes without a new favourable excursion of 5 points (see
  :class:`PackageStop`). Short: never - time decay *is* the progress a short premium package is paid for.
- IV (slow). Long: ``STOP_IV_CRUSH`` when the mark is down >= 20 % while |move| <= 2 points. Short:
  ``STOP_IV_EXPANSION`` when the cost to close is up >= 20 % while |move| <= 2 points.

``premium`` is always a positive magnitude per package: what the package would sell for (long) or cost to
buy back (short). Moves are measured from the entry underlying price. Thresholds are inclusive: a mark exactly
at -35 % fires, with a relative tolerance of 1e-9 so that a threshold that is not representable in binary
floating point (3.00 x 0.65) still fires when the mark sits on it. A NaN mark or underlying never fires a
dimension: the caller feeds marks from real quotes (bid/ask, not a stale mid).

Cost: both checks compare plain floats against levels precomputed at entry, on a ``__slots__`` object, and
build no containers, so an evaluation stays far under the 3 us budget (``benchmarks/bench_stops.py``
measures it).
"""

from __future__ import annotations

from odte_nautilus.risk.model import ExitKind
from odte_nautilus.risk.policy import FourDimensionalStop
from odte_nautilus.risk.time_units import MINUTE_NS

_TOLERANCE = 1e-9

# Bound once: the checks run every 100 ms per package and must not look the members up each time.
_STOP_PREMIUM = ExitKind.STOP_PREMIUM
_STOP_UNDERLYING_MOVE = ExitKind.STOP_UNDERLYING_MOVE
_STOP_NO_PROGRESS = ExitKind.STOP_NO_PROGRESS
_STOP_IV_CRUSH = ExitKind.STOP_IV_CRUSH
_STOP_IV_EXPANSION = ExitKind.STOP_IV_EXPANSION


class PackageStop:
    """The four-dimensional stop of one package, armed at its entry fill.

    ``bias`` is the package's directional view: +1 (profits when the underlying rises), -1 (when it falls),
    0 (neutral: a strangle or an iron fly). The adverse-move dimension measures the move against the bias;
    the no-progress dimension measures the favourable excursion along it (both sides for a neutral package).

    No progress (long premium only): the *excursion* is the signed move from the entry underlying along the
    bias, or its absolute value when neutral. Progress is a new high-water excursion at least
    ``progress_points`` above the last one (the anchor, 0 at entry); each progress resets the anchor and the
    clock. The stop fires when ``no_progress_minutes`` pass since entry or since the last progress. For a
    strangle a move back toward the entry price is not progress: it gives back what the strangle had gained.
    Progress is sampled at the slow cadence (seed 000: every 5 s).
    """

    __slots__ = (
        "entry_premium",
        "entry_underlying",
        "entry_ns",
        "long_premium",
        "bias",
        "_premium_level",
        "_iv_level",
        "_adverse_points",
        "_barely_points",
        "_progress_points",
        "_no_progress_ns",
        "_anchor_excursion",
        "_anchor_ns",
    )

    def __init__(
        self,
        config: FourDimensionalStop,
        entry_premium: float,
        entry_underlying: float,
        entry_ns: int,
        long_premium: bool,
        bias: int = 0,
    ) -> None:
        if not entry_premium > 0:
            raise ValueError(
                f"entry_premium must be a positive magnitude per package, got {entry_premium!r}"
                " (pass abs(fill price); use PackageStop.from_fill for a signed price)"
            )
        if bias not in (-1, 0, 1):
            raise ValueError(f"bias must be +1, -1 or 0 (neutral), got {bias!r}")
        self.entry_premium = float(entry_premium)
        self.entry_underlying = float(entry_underlying)
        self.entry_ns = int(entry_ns)
        self.long_premium = bool(long_premium)
        self.bias = int(bias)
        stop_fraction = config.premium_stop_pct / 100.0
        iv_fraction = config.iv_crush_premium_pct / 100.0
        slack = self.entry_premium * _TOLERANCE
        if self.long_premium:
            self._premium_level = self.entry_premium * (1.0 - stop_fraction) + slack
            self._iv_level = self.entry_premium * (1.0 - iv_fraction) + slack
        else:
            self._premium_level = self.entry_premium * (1.0 + stop_fraction) - slack
            self._iv_level = self.entry_premium * (1.0 + iv_fraction) - slack
        self._adverse_points = config.adverse_underlying_points - _TOLERANCE
        self._barely_points = config.iv_crush_max_underlying_points + _TOLERANCE
        self._progress_points = config.progress_points - _TOLERANCE
        self._no_progress_ns = int(config.no_progress_minutes * MINUTE_NS)
        self._anchor_excursion = 0.0
        self._anchor_ns = self.entry_ns

    @classmethod
    def from_fill(
        cls, config: FourDimensionalStop, fill_price: float, underlying: float, fill_ns: int, bias: int = 0
    ) -> PackageStop:
        """Arm the stop from a signed package fill price (debit > 0, credit < 0; risk/model.py convention).

        A debit means the package loses when its premium falls (long premium), a credit that it loses when
        the cost to buy it back rises (short premium): the sign, not the legs, decides the direction.
        """
        if fill_price == 0:
            raise ValueError("fill_price 0.0 is neither a debit nor a credit: a fill is never booked at 0.0")
        return cls(config, abs(fill_price), underlying, fill_ns, fill_price > 0, bias)

    def check_hard(self, premium: float, underlying: float, now_ns: int) -> ExitKind | None:
        """The hard dimensions, for the 100 ms timer: premium first, then the adverse underlying move."""
        if self.long_premium:
            if premium <= self._premium_level:
                return _STOP_PREMIUM
            if self.bias and (self.entry_underlying - underlying) * self.bias >= self._adverse_points:
                return _STOP_UNDERLYING_MOVE
            return None
        if premium >= self._premium_level:
            return _STOP_PREMIUM
        move = underlying - self.entry_underlying
        against = -move * self.bias if self.bias else abs(move)
        if against >= self._adverse_points:
            return _STOP_UNDERLYING_MOVE
        return None

    def check_slow(self, premium: float, underlying: float, now_ns: int) -> ExitKind | None:
        """The slow dimensions, for the 5 s timer: the IV detector first (it names a cause), then progress."""
        move = underlying - self.entry_underlying
        if not self.long_premium:
            if premium >= self._iv_level and abs(move) <= self._barely_points:
                return _STOP_IV_EXPANSION
            return None
        if premium <= self._iv_level and abs(move) <= self._barely_points:
            return _STOP_IV_CRUSH
        excursion = move * self.bias if self.bias else abs(move)
        if excursion - self._anchor_excursion >= self._progress_points:
            self._anchor_excursion = excursion
            self._anchor_ns = now_ns
            return None
        if now_ns - self._anchor_ns >= self._no_progress_ns:
            return _STOP_NO_PROGRESS
        return None
