"""Worst-case exposure: what a book holds plus every working order, filled in the way that hurts most.

A gate that checks an order against *filled* positions only is blind to the orders already in flight: two
exits sent in one callback, a resting exit that fills after a second one, a modify that raises an order a
lot at a time, an order list of two exits each fine alone. Each of those left a naked short or a reversal
through flat (docs/decisions/0002-worst-case-not-filled-positions.md). So every decision reads the book as
it could become:

- **coverage** (no naked short): every working order fills on the side that removes cover and never on
  the side that adds it, so per (underlying, expiry, right) the worst net is the held net plus the
  negative part of every working order's change;
- **reversal** (forbid_reverse_without_flat): per instrument, the holding must stay on one side of zero
  whichever subset of the working orders fills;
- **exit** is derived, never declared: an order reduces risk only if, for its own strategy, every leg
  shrinks a held position by no more than what is held minus what the other working orders may already
  take off it. A tag may name the exit kind for the reports; it grants nothing.

Pure: plain values in, plain values out, no Nautilus import (it is property-tested without an engine).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from odte_nautilus.risk.model import CoverGroup, Holding, IntentKind, Leg


@dataclass(frozen=True, slots=True)
class WorkingOrder:
    """An order that may still fill: accepted, in flight, emulated, or allowed and not yet acknowledged."""

    order_id: str
    strategy_id: str
    legs: tuple[Leg, ...]  # signed per package as traded: buying a leg is +
    quantity: int  # packages that may still fill (leaves)
    kind: IntentKind = IntentKind.ENTRY  # as the gate derived it when it allowed the order
    changes: tuple[tuple[str, int], ...] = field(init=False, repr=False, compare=False)
    group_changes: tuple[tuple[CoverGroup, int], ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        net: dict[str, int] = {}
        groups: dict[CoverGroup, int] = {}
        for leg in self.legs:
            ct, change = leg.contract, leg.ratio * self.quantity
            net[ct.instrument_id] = net.get(ct.instrument_id, 0) + change
            group = (ct.underlying, ct.expiry_ns, ct.right)
            groups[group] = groups.get(group, 0) + change
        object.__setattr__(self, "changes", tuple(net.items()))
        object.__setattr__(self, "group_changes", tuple(groups.items()))


def worst_cover(held: Mapping[str, Holding], working: Iterable[WorkingOrder]) -> dict[CoverGroup, int]:
    """Per cover group: long minus short contracts if every working sell fills and no working buy does."""
    cover: dict[CoverGroup, int] = {}
    for h in held.values():
        ct = h.contract
        group = (ct.underlying, ct.expiry_ns, ct.right)
        cover[group] = cover.get(group, 0) + h.quantity
    for order in working:
        for group, change in order.group_changes:
            if change < 0:
                cover[group] = cover.get(group, 0) + change
            elif group not in cover:
                cover[group] = 0
    return cover


def reach(held: Mapping[str, Holding], working: Iterable[WorkingOrder]) -> dict[str, tuple[int, int]]:
    """Per instrument: the lowest and highest holding some subset of the working orders can leave."""
    out: dict[str, tuple[int, int]] = {iid: (h.quantity, h.quantity) for iid, h in held.items()}
    for order in working:
        for iid, change in order.changes:
            low, high = out.get(iid, (0, 0))
            out[iid] = (low + change, high) if change < 0 else (low, high + change)
    return out


def derive_kind(
    changes: Iterable[tuple[str, int]], held: Mapping[str, Holding], working: Iterable[WorkingOrder]
) -> IntentKind:
    """EXIT only if every change shrinks its held position by no more than the other working orders leave.

    ``changes`` are the order's signed contracts per instrument; ``held`` and ``working`` are its own
    strategy's. Anything else, however it is tagged or flagged (``reduce_only``), is an ENTRY and must pass
    every entry rule: kill switch, day lock, EOD window, sizes, caps.
    """
    changes = [(iid, change) for iid, change in changes if change]
    if not changes:
        return IntentKind.ENTRY
    taking: dict[str, int] = {}  # per instrument held: contracts the working orders may already take off
    for iid, _ in changes:
        taking[iid] = 0
    for order in working:
        for iid, change in order.changes:
            if iid in taking:
                h = held.get(iid)
                if h is not None and h.quantity * change < 0:
                    taking[iid] += abs(change)
    for iid, change in changes:
        h = held.get(iid)
        if h is None or h.quantity * change >= 0 or abs(change) + taking[iid] > abs(h.quantity):
            return IntentKind.ENTRY
    return IntentKind.EXIT


@dataclass(frozen=True, slots=True)
class ScopeExposure:
    """One book's worst case (a strategy's, or the account's): computed once per risk-state snapshot."""

    held: Mapping[str, Holding]
    working: tuple[WorkingOrder, ...]
    cover: dict[CoverGroup, int]  # worst net per cover group (``worst_cover``)
    uncovered: tuple[CoverGroup, ...]  # the groups whose worst net is short
    reach: dict[str, tuple[int, int]]  # per instrument (``reach``)

    @classmethod
    def of(cls, held: Mapping[str, Holding], working: tuple[WorkingOrder, ...]) -> ScopeExposure:
        cover = worst_cover(held, working)
        return cls(held, working, cover, tuple([g for g, net in cover.items() if net < 0]), reach(held, working))
