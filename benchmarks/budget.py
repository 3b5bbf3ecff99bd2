"""How a benchmark states a budget: the median of several runs, their spread, and a verdict that says
when the budget falls inside the spread (a line that flips between "within" and "OVER" from run to run
is noise, not news)."""

from __future__ import annotations

import os
import statistics
from pathlib import Path


def spread_line(
    name: str, runs: tuple[list[float], list[float]], budget_median_ns: int, budget_p99_ns: int, budgeted: bool = True
) -> tuple[str, bool]:
    """``name: median (min-max) p99 (min-max) verdict`` from each run's median and p99, and whether it is over."""
    medians, p99s = runs
    median, p99 = statistics.median(medians), statistics.median(p99s)
    over = median > budget_median_ns or p99 > budget_p99_ns
    text = (
        f"{name}: median {median / 1000:7.2f} us ({min(medians) / 1000:.2f}-{max(medians) / 1000:.2f})"
        f"  p99 {p99 / 1000:7.2f} us ({min(p99s) / 1000:.2f}-{max(p99s) / 1000:.2f})"
    )
    if not budgeted:
        return text + "  (not budgeted)", False
    text += f"  {'OVER' if over else 'within'} (median of {len(medians)} runs)"
    if min(medians) <= budget_median_ns < max(medians) or min(p99s) <= budget_p99_ns < max(p99s):
        text += ", the budget inside the spread: too close to call"
    return text, over


def machine_load() -> str:
    """How busy the machine is: other work shows as noise, mostly in the p99s (a preempted call)."""
    text = f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs"
    try:
        some = Path("/proc/pressure/cpu").read_text().split()[1]  # avg10=..: % of time a task waited for a CPU
        text += f", CPU pressure {some.replace('avg10=', '')} % (last 10 s)"
    except (OSError, IndexError):
        pass
    return text + " - other work on the machine shows as noise, mostly in the p99s"
