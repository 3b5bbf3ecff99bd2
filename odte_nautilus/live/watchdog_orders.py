"""The watchdog's closing orders, pure: which legs go first, and at what price.

Shorts first, longs after (``close_waves``): a long option is what covers a short one in a package (a fly's
wings, a spread's long leg), so selling a long while its short is still open would leave the short naked for
as long as the buy-back takes. Buying every short back first keeps every instant covered; the longs are sold
only once the broker shows no short left.

Prices are marketable limits at the far touch of a snapshot, on the SPXW tick grid (``data/ticks.py``, the
one place that rounds): a buy at the ask rounded up, a sell at the bid rounded down, each retry one tick
further, so a quote that moved since the snapshot still crosses. No usable far touch (no quote, or no bid
for a long) gives no price: the order goes at market, since an expiring short left open is a larger risk
than the slippage of a market order.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Literal

from odte_nautilus.data.ticks import SPXW_TICKS, Direction, TickScheme, round_to_tick, tick_above

Action = Literal["BUY", "SELL"]


def close_waves[K](positions: Mapping[K, int]) -> tuple[dict[K, int], dict[K, int]]:
    """(shorts, longs): the legs to buy back first, then the legs to sell, each with its signed quantity."""
    shorts = {leg: qty for leg, qty in positions.items() if qty < 0}
    longs = {leg: qty for leg, qty in positions.items() if qty > 0}
    return shorts, longs


def close_action(quantity: int) -> Action:
    """The side that closes a signed position: buy back a short, sell a long."""
    if quantity == 0:
        raise ValueError("a flat leg has nothing to close")
    return "BUY" if quantity < 0 else "SELL"


def marketable_limit(
    action: Action, bid: float | None, ask: float | None, concession_ticks: int = 0, scheme: TickScheme = SPXW_TICKS
) -> float | None:
    """The far touch on the tick grid, ``concession_ticks`` further towards the other side; None: at market.

    IB marks a missing side as -1 or 0 and ib_async as NaN: all mean no price. A sell never goes below the
    grid's smallest price (a zero limit is no order IB takes).
    """
    far = ask if action == "BUY" else bid
    if far is None or not math.isfinite(far) or far <= 0:
        return None
    if action == "BUY":
        price = round_to_tick(far, Direction.UP, scheme)
        for _ in range(concession_ticks):
            price = tick_above(price, scheme)
        return price
    price = round_to_tick(far, Direction.DOWN, scheme)
    for _ in range(concession_ticks):
        price = round_to_tick(price - scheme.min_increment / 10, Direction.DOWN, scheme)  # the tick below
    return max(price, scheme.min_increment)
