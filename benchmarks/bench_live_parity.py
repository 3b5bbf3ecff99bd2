"""Parity and speed of the paper node (issue 10): the same SPY sessions through ``odte backtest`` and through
``odte live --broker alpaca-sim``, and the node's quote-to-order latency.

Run: ``.venv/bin/python benchmarks/bench_live_parity.py [--seeds 11 12 13] [--out DIR]``

For each seed a one-session SPY sample is built; the backtest runs the paper config's strategies over it
(the catalog's SPY options, the same risk profile with the Alpaca flatten at 15:10 ET, the Alpaca fee
schedule) and the simulated paper node replays the same session. Printed per session and in total:

- packages: how many match on (strategy, entry minute, legs, size, exit kinds), and every difference;
- kernel decisions: how many of the strategies' decisions match on (minute, strategy, intent, code);
- latency: from an exit's trigger quote reaching the Alpaca data client to the exit order's HTTP request
  leaving the execution client (the real alpaca-py ``submit_order`` call), p50 and p99, target p99 < 5 ms.
  The trigger is one of the package's leg quotes of that minute's burst: the figures from the first and from
  the last of them bound it. Every exit of every session is a sample (entries wait for a REST quote of each
  newly subscribed leg, so they are not the stop path); the count is printed.

Each paper session runs in its own process (a Nautilus node per process, as ``odte live`` runs it), with two
timing wrappers installed on the adapter's quote handler and on alpaca-py's ``submit_order``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from odte_nautilus.backtest import load_backtest_config, run_backtest
from odte_nautilus.live.node import broker_policy
from odte_nautilus.live.settings import PAPER_CONFIG, load_settings
from odte_nautilus.live.sim_broker import sample_catalog

TARGET_P99_MS = 5.0


def backtest(catalog: Path, run_dir: Path) -> None:
    """The paper config's strategies over the session, as the backtest engine runs them."""
    settings = load_settings(PAPER_CONFIG)
    profile = run_dir.parent / "paper_profile.yaml"
    profile.write_text(yaml.safe_dump(broker_policy(settings).model_dump(mode="json")))
    strategies = [{**s, "config": {**s["config"], "underlying_id": "SPY.SMART"}} for s in settings.strategies]
    config = load_backtest_config(
        PAPER_CONFIG.parent / "backtest.yaml",
        catalog=catalog,
        risk_profile=str(profile),
        venue="SMART",
        fees={"schedule": "alpaca-spy"},
        strategies=strategies,
        starting_balance=settings.starting_balance,
    )
    run_backtest(config, run_dir)


def paper_session(catalog_root: Path, run_dir: Path, timings: Path, seed: int) -> None:
    """One simulated paper session in this process, with the latency wrappers (the child's entry point)."""
    from alpaca.trading.client import TradingClient

    from odte_nautilus.adapters.alpaca.data import AlpacaDataClient
    from odte_nautilus.live.simulated import run_simulated_session

    quotes: dict[str, list[tuple[int, int]]] = {}  # symbol -> (received, the quote's own minute)
    orders: list[tuple[int, list[str]]] = []
    on_quote, submit = AlpacaDataClient._on_option_quote, TradingClient.submit_order

    async def timed_quote(self: AlpacaDataClient, msg: dict[str, Any]) -> None:
        quotes.setdefault(msg["S"], []).append((time.perf_counter_ns(), msg["t"].to_unix_nano()))
        await on_quote(self, msg)

    def timed_submit(self: TradingClient, request: Any) -> Any:
        legs = request.legs or []
        if any(
            "close" in str(leg.position_intent).lower() for leg in legs
        ):  # an exit: a stop, a take-profit, the flatten
            orders.append((time.perf_counter_ns(), [leg.symbol for leg in legs]))
        return submit(self, request)

    AlpacaDataClient._on_option_quote = timed_quote  # type: ignore[method-assign]
    TradingClient.submit_order = timed_submit  # type: ignore[method-assign,assignment]
    settings = load_settings(PAPER_CONFIG)
    run_simulated_session(
        settings,
        PAPER_CONFIG,
        run_dir,
        underlying="SPY",
        catalog_root=catalog_root,
        seconds_per_minute=0.0,
        control_port=0,
        seed=seed,
    )
    timings.write_text(json.dumps([_latency(sent, legs, quotes) for sent, legs in orders]))


def _latency(sent: int, legs: list[str], quotes: dict[str, list[tuple[int, int]]]) -> tuple[float, float] | None:
    """(earliest, latest) of the order's leg quotes of the last replayed minute before it, to the order, in ms:
    the quote that triggered the decision is one of them, so the true latency lies between the two."""
    seen = [(received, minute) for leg in legs for received, minute in quotes.get(leg, []) if received <= sent]
    if not seen:
        return None
    last = max(minute for _, minute in seen)
    burst = [received for received, minute in seen if minute == last]
    return (sent - min(burst)) / 1e6, (sent - max(burst)) / 1e6


def packages(run_dir: Path) -> Counter:
    positions = pd.read_csv(run_dir / "positions.csv", keep_default_na=False)
    fills = pd.read_csv(run_dir / "fills.csv", keep_default_na=False)
    entries = fills[fills["role"] == "entry"]
    legs = entries.groupby("package_id")["instrument_id"].apply(lambda s: tuple(sorted(i.split(".")[0] for i in s)))
    return Counter(
        (p.strategy_id, p.opened_at[:16], legs.get(p.package_id, ()), p.quantity, p.exit_kinds)
        for p in positions.itertuples()
    )


def decisions(run_dir: Path) -> Counter:
    out: Counter = Counter()
    for line in (run_dir / "decisions.jsonl").read_text().splitlines():
        d = json.loads(line)
        if d["kind"] == "decision" and d["source"] == "strategy":
            out[
                (
                    d["time"][:16],
                    d["strategy"],
                    d["intent"]["kind"],
                    d["intent"].get("exit_kind"),
                    d["decision"]["code"],
                )
            ] += 1
    return out


def compare(name: str, left: Counter, right: Counter) -> tuple[int, int]:
    matched = sum((left & right).values())
    total = max(sum(left.values()), sum(right.values()))
    print(f"  {name}: {matched} of {total} match")
    for key, n in (left - right).items():
        print(f"    only in the backtest ({n}): {key}")
    for key, n in (right - left).items():
        print(f"    only in the paper node ({n}): {key}")
    return matched, total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, nargs="+", default=[10, 11, 12, 13, 14, 15])
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument(
        "--one-session", nargs=4, metavar=("CATALOG_ROOT", "RUN", "TIMINGS", "SEED"), help=argparse.SUPPRESS
    )
    args = parser.parse_args()
    if args.one_session:
        root, run, timings, seed = args.one_session
        paper_session(Path(root), Path(run), Path(timings), int(seed))
        return
    root = args.out or Path(tempfile.mkdtemp(prefix="bench_live_"))
    totals = {"packages": [0, 0], "decisions": [0, 0]}
    latencies: list[tuple[float, float]] = []
    for seed in args.seeds:
        base = root / f"seed{seed}"
        shutil.rmtree(base, ignore_errors=True)
        catalog = sample_catalog(base / "catalog", "SPY", seed)  # where the paper session finds it
        backtest(catalog, base / "backtest")
        timings = base / "latency.json"
        child = [sys.executable, __file__, "--one-session", str(base / "catalog"), str(base / "paper"), str(timings)]
        child.append(str(seed))
        done = subprocess.run(child, capture_output=True, text=True, cwd=base)
        if done.returncode:
            print(f"seed {seed}: the paper session failed:\n{done.stderr[-2000:]}")
            continue
        print(f"seed {seed}:")
        for name, read in (("packages", packages), ("decisions", decisions)):
            matched, total = compare(name, read(base / "backtest"), read(base / "paper"))
            totals[name][0] += matched
            totals[name][1] += total
        latencies += [tuple(pair) for pair in json.loads(timings.read_text()) if pair is not None]
    for name, (matched, total) in totals.items():
        print(f"{name}: {matched} of {total} match over {len(args.seeds)} sessions")
    if latencies:
        for name, values in (
            ("from the first", [a for a, _ in latencies]),
            ("from the last", [b for _, b in latencies]),
        ):
            p50 = statistics.median(values)
            p99 = sorted(values)[max(0, round(0.99 * len(values)) - 1)]
            verdict = "within" if p99 < TARGET_P99_MS else "OVER"
            print(
                f"quote-to-exit latency {name} leg quote of the burst, over {len(values)} exits:"
                f" p50 {p50:.2f} ms, p99 {p99:.2f} ms (target p99 < {TARGET_P99_MS:.0f} ms: {verdict})"
            )


if __name__ == "__main__":
    main()
