"""Latency of one pre-trade check (budget: median 5 us, p99 25 us; DESIGN decision 3 puts it in the
engine's command path, so every order pays it).

Run: ``.venv/bin/python benchmarks/bench_kernel.py``. The multi_strategy_paper profile (every rule
applies) and a realistic book: an iron fly and a long strangle on SPX, an iron fly on SPY, a pending
strangle on QQQ, a morning's entries and a realized loss. Three checks, each timed call by call over
100,000 calls:
- an allowed iron-fly entry that runs every entry rule to the end (the budget applies to this one);
- a refused entry that runs every rule but the last few (open risk per symbol over its limit);
- a refused entry stopped by the first gates (kill switch).

A check reads facts computed before it, once per intent or once per snapshot: the intent's
``PackageShape`` and open risk (built with the ``Intent``) and the state's ``StateIndex`` (built on the
first check of a ``RiskState``). That work has not vanished, so it is printed too, on its own lines, after
the budgeted checks: building the ``Intent``, building the ``RiskState``, indexing it, and an allowed entry
checked on a new snapshot (index + package facts + check). The last is what an order costs while the risk
book builds a new snapshot for every check, as it does today (plus its reads of the durable store, not
measured here); the budget applies to the check of a snapshot that has been indexed.
"""

from __future__ import annotations

import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the test kit's builders

from odte_nautilus.risk.kernel import Kernel  # noqa: E402
from odte_nautilus.risk.model import Intent, PackageState, StateIndex  # noqa: E402
from odte_nautilus.risk.policy import load_policy  # noqa: E402
from tests.kit import entry, iron_butterfly, long_strangle, ny_ns, package_view, state  # noqa: E402

BUDGET_MEDIAN_NS = 5_000
BUDGET_P99_NS = 25_000
CHECKS = 100_000
THETA, GAMMA = "ThetaHarvester-001", "GammaScalper-001"


def _fly(center: float, symbol: str = "SPX", package: str = "P-new"):
    legs = iron_butterfly(center, underlying=symbol)
    return entry(legs, strategy=THETA, symbol=symbol, package=package, price=-12.0)


def _book():
    packages = (
        package_view(_fly(5100, package="T-1"), unrealized=35.0),
        package_view(entry(long_strangle(5160, 5040), package="G-1"), unrealized=12.0),
        package_view(_fly(510, symbol="SPY", package="T-2"), unrealized=4.0),
        package_view(
            entry(long_strangle(440, 430, underlying="QQQ"), symbol="QQQ", package="G-2"), PackageState.PENDING_ENTRY
        ),
    )
    return state(
        *packages,
        realized_pnl=-420.0,
        strategy_realized_pnl={THETA: -300.0, GAMMA: -120.0},
        trades_today=4,
        entry_times_ns={THETA: (ny_ns(9, 35), ny_ns(9, 41)), GAMMA: (ny_ns(9, 38), ny_ns(9, 52))},
    )


def _timed(check, intent, st, states=None) -> tuple[float, float]:
    """Median and p99 in nanoseconds of one call, each call timed on its own (on ``states[i]`` if given)."""
    clock = time.perf_counter_ns
    samples = []
    for i in range(CHECKS):
        if states is not None:
            st = states[i]
        start = clock()
        check(intent, st)
        samples.append(clock() - start)
    samples.sort()
    return statistics.median(samples), samples[int(len(samples) * 0.99)]


def _line(name: str, timing: tuple[float, float]) -> str:
    median, p99 = timing
    return f"{name}: median {median / 1000:6.2f} us  p99 {p99 / 1000:6.2f} us"


def main() -> int:
    kernel = Kernel(load_policy("multi_strategy_paper"))
    book = _book()
    allowed = _fly(5130)
    risk_near_limit = tuple(replace(p, open_risk=9_500.0) if p.package_id == "T-1" else p for p in book.packages)
    cases = [  # name, intent, state, allowed?
        ("allowed entry (every rule) ", allowed, book, True),
        ("refused late (open risk)   ", allowed, replace(book, packages=risk_near_limit), False),
        ("refused early (kill switch)", allowed, replace(book, kill_switch=True), False),
    ]
    for name, intent, st, expected in cases:
        decision = kernel.check(intent, st)
        assert decision.allowed is expected, (name, decision)

    overhead, _ = _timed(lambda i, s: None, allowed, book)
    print(f"timer + call overhead: {overhead:7.0f} ns")
    print(f"the check ({CHECKS:,} checks each):")
    verdict = 0
    for name, intent, st, expected in cases:
        median, p99 = _timed(kernel.check, intent, st)
        print(_line(f"  {name}", (median, p99)))
        if expected and (median > BUDGET_MEDIAN_NS or p99 > BUDGET_P99_NS):
            verdict = 1
    print("built before a check, once per intent or per snapshot (outside the budget, but paid per order):")
    names = ("kind", "strategy_id", "symbol", "package_id", "legs", "quantity", "price", "ts_ns", "exit_kind")
    fields = [getattr(allowed, name) for name in names]
    print(_line("  Intent(...), shape included     ", _timed(lambda i, s: Intent(*fields), allowed, book)))
    print(_line("  RiskState(...), as the book does", _timed(lambda i, s: replace(s), allowed, book)))
    print(_line("  its StateIndex (first check)    ", _timed(lambda i, s: StateIndex(s), allowed, book)))
    fresh = [replace(book) for _ in range(CHECKS)]
    print(_line("  allowed entry on a new snapshot ", _timed(kernel.check, allowed, None, fresh)))
    budget = f"median {BUDGET_MEDIAN_NS / 1000:g} us, p99 {BUDGET_P99_NS / 1000:g} us"
    print(f"allowed entry {'within' if verdict == 0 else 'OVER'} the budget ({budget})")
    return verdict


if __name__ == "__main__":
    raise SystemExit(main())
