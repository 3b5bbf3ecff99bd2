"""Per-call cost of the four-dimensional stop (budget: 3 us per evaluation; seed 000 checks every 100 ms).

Run: ``.venv/bin/python benchmarks/bench_stops.py``. Prints the median over batches of the cost of one
``check_hard`` and one ``check_slow`` call on a long strangle and a short iron fly, with marks that never
trigger (the common case: every dimension is evaluated to the end). The loop overhead is measured with an
empty call of the same shape and reported separately; the budget is checked against the raw figure.
"""

from __future__ import annotations

import statistics
import time

from odte_nautilus.risk.policy import FourDimensionalStop
from odte_nautilus.risk.stops import PackageStop
from odte_nautilus.risk.time_units import NS_PER_SECOND

BUDGET_NS = 3_000.0
CALLS_PER_BATCH = 20_000
BATCHES = 50
T0 = 1_710_511_200_000_000_000


def _noop(premium: float, underlying: float, now_ns: int) -> None:
    return None


def _per_call_ns(check, premium: float, underlying: float) -> float:
    """Median over batches of the wall time of one call, in nanoseconds."""
    samples = []
    now = T0 + NS_PER_SECOND
    for _ in range(BATCHES):
        start = time.perf_counter_ns()
        for _ in range(CALLS_PER_BATCH):
            check(premium, underlying, now)
        samples.append((time.perf_counter_ns() - start) / CALLS_PER_BATCH)
    return statistics.median(samples)


def main() -> int:
    config = FourDimensionalStop()
    cases = {
        "long strangle ": (PackageStop(config, 3.0, 5100.0, T0, long_premium=True), 2.9, 5103.0),
        "long call bias": (PackageStop(config, 3.0, 5100.0, T0, long_premium=True, bias=1), 2.9, 5103.0),
        "short iron fly": (PackageStop(config, 12.0, 5100.0, T0, long_premium=False), 11.5, 5103.0),
    }
    overhead = _per_call_ns(_noop, 1.0, 1.0)
    print(f"loop + call overhead of an empty function: {overhead:7.1f} ns")
    worst = 0.0
    for name, (stop, premium, underlying) in cases.items():
        for method in ("check_hard", "check_slow"):
            cost = _per_call_ns(getattr(stop, method), premium, underlying)
            worst = max(worst, cost)
            print(f"{name} {method}: {cost:7.1f} ns/call (net of overhead {cost - overhead:7.1f} ns)")
    verdict = "within" if worst <= BUDGET_NS else "OVER"
    print(f"worst {worst:.1f} ns/call: {verdict} the {BUDGET_NS:.0f} ns budget")
    return 0 if worst <= BUDGET_NS else 1


if __name__ == "__main__":
    raise SystemExit(main())
