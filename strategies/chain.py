"""One expiry's option chain around the underlying, and the packages the strategies pick from it.

This is the "what do we trade" half of the LEAN split (docs/style.md): the strategy hands in today's listed
contracts and the spot, and gets back a package as signed ``Leg``s — the same vocabulary the kernel
reads — or ``None``. A package is all or nothing: an iron butterfly whose wing is not listed is no
package at all, because a short straddle without its wings is the naked short that design §6
(seed 000, "no naked short, ever") forbids. The kernel would refuse it anyway; the chain never proposes it.

Pure: no Nautilus import. The strategy builds ``ChainLink``s from the cached ``OptionContract``s of the
day's expiry (id, kind, strike).
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterable
from dataclasses import dataclass

from odte_nautilus.risk.model import CONTRACT_MULTIPLIER, Contract, Leg, OptionRight

_STRIKE_DIGITS = 6  # strikes are compared after rounding: 5100.0 and 5100.0000000001 are one strike
_TIE = 1e-9  # a spot computed from prices carries float noise: halfway within this is still a tie


def _key(strike: float) -> float:
    return round(float(strike), _STRIKE_DIGITS)


@dataclass(frozen=True, slots=True)
class ChainLink:
    """One listed contract of the chain: its instrument id, right and strike."""

    instrument_id: str
    right: OptionRight
    strike: float


class OptionChain:
    """The listed calls and puts of one underlying and one expiry, indexed by strike."""

    def __init__(
        self,
        underlying: str,
        expiry_ns: int,
        links: Iterable[ChainLink],
        multiplier: int = CONTRACT_MULTIPLIER,
    ) -> None:
        self.underlying = underlying
        self.expiry_ns = expiry_ns
        self.multiplier = multiplier
        self._by_right: dict[OptionRight, dict[float, ChainLink]] = {OptionRight.CALL: {}, OptionRight.PUT: {}}
        for link in links:
            side = self._by_right[OptionRight(link.right)]
            key = _key(link.strike)
            if key in side:
                raise ValueError(
                    f"{self.underlying} chain lists two {OptionRight(link.right).name} contracts at strike {key}:"
                    f" {side[key].instrument_id!r} and {link.instrument_id!r}; build one chain per expiry"
                )
            side[key] = link
        self._side_strikes = {right: tuple(sorted(side)) for right, side in self._by_right.items()}
        self.strikes: tuple[float, ...] = tuple(sorted(set().union(*self._side_strikes.values())))

    @property
    def links(self) -> tuple[ChainLink, ...]:
        return tuple(link for side in self._by_right.values() for link in side.values())

    def link(self, right: OptionRight, strike: float) -> ChainLink | None:
        """The listed contract of ``right`` at ``strike``, or ``None``."""
        return self._by_right[OptionRight(right)].get(_key(strike))

    def call(self, strike: float) -> ChainLink | None:
        return self.link(OptionRight.CALL, strike)

    def put(self, strike: float) -> ChainLink | None:
        return self.link(OptionRight.PUT, strike)

    def nearest_otm(self, spot: float) -> tuple[ChainLink | None, ChainLink | None]:
        """The nearest out-of-the-money call and put: the lowest call strike >= spot, the highest put strike <= spot.

        What the at-the-money IV reads, and what a live strategy watches for it, on every index bar: a bisection
        of each side's strikes rather than a walk along the chain.
        """
        calls, puts = self._side_strikes[OptionRight.CALL], self._side_strikes[OptionRight.PUT]
        i, j = bisect_left(calls, spot), bisect_right(puts, spot)
        call = self._by_right[OptionRight.CALL][calls[i]] if i < len(calls) else None
        put = self._by_right[OptionRight.PUT][puts[j - 1]] if j > 0 else None
        return call, put

    def atm_strike(self, spot: float) -> float | None:
        """The listed strike nearest to spot; halfway between two strikes goes to the lower one."""
        return _nearest(self.strikes, spot, tie_high=False)

    def strike_at_offset(self, spot: float, points: float, side: OptionRight) -> float | None:
        """The listed strike of ``side`` nearest to spot + points (calls) or spot - points (puts).

        A tie goes further out of the money (the higher call, the lower put): the cheaper contract.
        """
        side = OptionRight(side)
        if side is OptionRight.CALL:
            return _nearest(self._side_strikes[side], spot + points, tie_high=True)
        return _nearest(self._side_strikes[side], spot - points, tie_high=False)

    def contract(self, link: ChainLink) -> Contract:
        return Contract(
            instrument_id=link.instrument_id,
            underlying=self.underlying,
            right=OptionRight(link.right),
            strike=float(link.strike),
            expiry_ns=self.expiry_ns,
            multiplier=self.multiplier,
        )

    def iron_butterfly(self, spot: float, wing_points: float) -> tuple[Leg, ...] | None:
        """The Theta Harvester's package: short the ATM call and put, long the call and put ``wing_points`` out.

        The wings are at exactly ATM +/- ``wing_points`` (the open risk is then the configured wing width,
        design §7). ``None`` when any of the four contracts is not listed.
        """
        if wing_points <= 0:
            raise ValueError(f"wing_points must be positive, got {wing_points}")
        atm = self.atm_strike(spot)
        if atm is None:
            return None
        wanted = (
            (self.call(atm), -1),
            (self.put(atm), -1),
            (self.call(atm + wing_points), 1),
            (self.put(atm - wing_points), 1),
        )
        return self._package(wanted)

    def strangle(self, spot: float, call_offset_points: float, put_offset_points: float) -> tuple[Leg, ...] | None:
        """The Gamma Scalper's package: long an OTM call near spot + offset and an OTM put near spot - offset.

        ``None`` when either side has no listed strike or a snapped strike lands in the money (a sparse
        chain or an offset under half a strike step): the package would then not be the strangle the
        signal asked for.
        """
        if call_offset_points < 0 or put_offset_points < 0:
            raise ValueError(f"strangle offsets must be >= 0, got call {call_offset_points}, put {put_offset_points}")
        call_strike = self.strike_at_offset(spot, call_offset_points, OptionRight.CALL)
        put_strike = self.strike_at_offset(spot, put_offset_points, OptionRight.PUT)
        if call_strike is None or put_strike is None or call_strike < spot or put_strike > spot:
            return None
        return self._package(((self.call(call_strike), 1), (self.put(put_strike), 1)))

    def _package(self, wanted: tuple[tuple[ChainLink | None, int], ...]) -> tuple[Leg, ...] | None:
        listed = [(link, ratio) for link, ratio in wanted if link is not None]
        if len(listed) < len(wanted):
            return None
        return tuple(Leg(self.contract(link), ratio) for link, ratio in listed)


def _nearest(strikes: tuple[float, ...], target: float, *, tie_high: bool) -> float | None:
    """The element of an ascending tuple nearest to ``target``; a tie goes up when ``tie_high``."""
    if not strikes:
        return None
    i = bisect_left(strikes, target)
    if i == 0:
        return strikes[0]
    if i == len(strikes):
        return strikes[-1]
    below, above = strikes[i - 1], strikes[i]
    gap_below, gap_above = target - below, above - target
    if abs(gap_below - gap_above) <= _TIE:
        return above if tie_high else below
    return below if gap_below < gap_above else above
