"""Run every benchmark script in turn and print their figures (``make bench``)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
SCRIPTS = [
    "bench_kernel.py",
    "bench_gate.py",
    "bench_stops.py",
    "bench_catalog_write.py",
    "bench_backtest.py",
    "bench_sweep.py",  # builds a 252-session catalog and runs a year several ways: the longest, so the last
]

if __name__ == "__main__":
    failed = []
    for script in SCRIPTS:
        print(f"\n=== {script}", flush=True)
        if subprocess.run([sys.executable, str(HERE / script)]).returncode:
            failed.append(script)
    if failed:
        print(f"\nover budget or failed: {', '.join(failed)}")
    sys.exit(1 if failed else 0)
