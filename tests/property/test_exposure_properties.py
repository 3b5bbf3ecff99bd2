"""The worst-case model against brute force: every subset of the working orders, filled.

``worst_cover`` must be no better than any subset of fills can make a cover group (and exactly as bad as
the worst one); ``reach`` must bound every holding any subset can leave; ``derive_kind`` may call an order
an exit only if, whichever of the other reducing orders fill, it never carries a holding through zero.
"""

from __future__ import annotations

from itertools import chain, combinations

from hypothesis import given, settings
from hypothesis import strategies as st

from odte_nautilus.risk.exposure import WorkingOrder, derive_kind, reach, worst_cover
from odte_nautilus.risk.model import Holding, IntentKind, Leg
from tests.kit import contract

CONTRACTS = [contract("C", 5100), contract("C", 5120), contract("P", 5100), contract("P", 5080)]

legs = st.lists(
    st.tuples(st.sampled_from(range(len(CONTRACTS))), st.integers(-2, 2).filter(bool)), min_size=1, max_size=3
).map(lambda pairs: tuple(Leg(CONTRACTS[i], r) for i, r in pairs))
working_orders = st.lists(st.tuples(legs, st.integers(1, 3)), max_size=5).map(
    lambda orders: tuple(WorkingOrder(f"O-{n}", "S", lg, q) for n, (lg, q) in enumerate(orders))
)
held = st.dictionaries(st.sampled_from(range(len(CONTRACTS))), st.integers(-3, 3)).map(
    lambda d: {CONTRACTS[i].instrument_id: Holding(CONTRACTS[i], q) for i, q in d.items() if q}
)


def subsets(orders):
    return chain.from_iterable(combinations(orders, k) for k in range(len(orders) + 1))


def _after(book: dict[str, Holding], filled) -> dict[str, int]:
    out = {iid: h.quantity for iid, h in book.items()}
    for order in filled:
        for iid, change in order.changes:
            out[iid] = out.get(iid, 0) + change
    return out


def _cover(positions: dict[str, int]) -> dict:
    cover: dict = {}
    by_id = {c.instrument_id: c for c in CONTRACTS}
    for iid, qty in positions.items():
        ct = by_id[iid]
        group = (ct.underlying, ct.expiry_ns, ct.right)
        cover[group] = cover.get(group, 0) + qty
    return cover


@settings(max_examples=300, deadline=None)
@given(held, working_orders)
def test_worst_cover_is_the_worst_any_subset_of_fills_can_do(book, orders):
    worst = worst_cover(book, orders)
    lowest = dict.fromkeys(worst, 10**9)
    for filled in subsets(orders):
        cover = _cover(_after(book, filled))
        assert set(cover) <= set(worst)
        for group in worst:
            net = cover.get(group, 0)
            assert net >= worst[group]
            lowest[group] = min(lowest[group], net)
    assert lowest == worst  # and some subset of fills reaches it


@settings(max_examples=300, deadline=None)
@given(held, working_orders)
def test_reach_bounds_every_holding_a_subset_of_fills_can_leave(book, orders):
    bounds = reach(book, orders)
    seen: dict[str, tuple[int, int]] = {}
    for filled in subsets(orders):
        after = _after(book, filled)
        assert set(after) <= set(bounds)
        for iid in bounds:
            qty = after.get(iid, 0)
            low, high = bounds[iid]
            assert low <= qty <= high
            lo, hi = seen.get(iid, (qty, qty))
            seen[iid] = (min(lo, qty), max(hi, qty))
    assert seen == bounds  # and the bounds are reached: no looser than the fills allow


@settings(max_examples=500, deadline=None)
@given(held, working_orders, legs, st.integers(1, 3))
def test_an_order_called_an_exit_never_carries_a_holding_through_zero(book, orders, order_legs, quantity):
    order = WorkingOrder("NEW", "S", order_legs, quantity)
    if derive_kind(order.changes, book, orders) is not IntentKind.EXIT:
        return
    for filled in subsets(orders):
        for iid, change in order.changes:
            if not change:
                continue  # legs of one instrument that cancel out trade nothing
            before = book[iid].quantity
            reducing = sum(c for o in filled for i, c in o.changes if i == iid and c * before < 0)
            assert (before + reducing + change) * before >= 0  # it only takes off what is held
            assert change * before < 0  # and it trades nothing it does not hold
