"""Choose each strategy's exit parameters on some sample seeds, and report them on others (issue 8, part 5).

    .venv/bin/python backtests/exit_selection.py                 # the whole study, into runs/exit_selection/
    .venv/bin/python backtests/exit_selection.py --out DIR       # elsewhere

1. Builds a 20-session sample catalog per seed (``odte catalog sample --seed N --path DIR``), once.
2. **Selection.** Runs each strategy *alone* (its entry of ``configs/backtest.yaml``, under the config's risk
   profile, engine gate and audit, as ``odte backtest`` runs it) with each exit candidate of its small grid
   over the SELECTION seeds, and picks the candidate with the highest total P&L over those seeds (ties: the
   smaller worst drawdown). The grid holds the two baselines too (hold; the seed's stop), so a structure's
   own exits are chosen only where they did better. Nothing else is tuned: entries, sizes and every risk
   limit stay as configured.
3. **Held out.** Runs both strategies together, as the default backtest does, over the HELD-OUT seeds,
   which the choice never saw, three times: with the chosen exits, holding to the EOD flatten (no stop, no
   take-profit), and with the seed's four-dimensional stop and the take-profits configured before this study.
4. Prints one table per phase (per strategy: trades, P&L, win rate, worst drawdown of a seed, fees) and
   writes them, with every run's figures, to the output folder: ``held_out.md`` (the table the README quotes),
   ``selection.md``, ``runs.csv``, ``chosen.json``.

Every run's figures are kept in ``results.jsonl`` as it finishes: a study that is stopped picks up where it
was. Each run takes 15-25 s on one core; the study is 48 selection runs and 9 held-out runs.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
SELECTION_SEEDS = (11, 12, 13)
HELD_OUT_SEEDS = (21, 22, 23)
DAYS = 20
THETA, GAMMA = "ThetaHarvester-001", "GammaScalper-002"

# The configuration before this study: the seed's four-dimensional stop with the take-profits it shipped with.
SEED_STOP = {
    THETA: {"exit": {"kind": "four_dimensional"}, "take_profit_partial_pct": 25, "take_profit_full_pct": 50},
    GAMMA: {"exit": {"kind": "four_dimensional"}, "take_profit_partial_pct": None, "take_profit_full_pct": 60},
}
HOLD = {
    THETA: {"exit": {"kind": "hold"}, "take_profit_partial_pct": None, "take_profit_full_pct": None},
    GAMMA: {"exit": {"kind": "hold"}, "take_profit_partial_pct": None, "take_profit_full_pct": None},
}


def _fly(take_profit: int, loss: float | None, breakeven: float | None) -> dict[str, Any]:
    return {
        "exit": {"kind": "iron_fly", "loss_credit_multiple": loss, "breakeven_fraction": breakeven, "time_exit": None},
        "take_profit_partial_pct": None,
        "take_profit_full_pct": take_profit,
    }


def _strangle(take_profit: int, loss: float | None, minutes: float | None) -> dict[str, Any]:
    return {
        "exit": {"kind": "strangle", "loss_debit_fraction": loss, "time_stop_minutes": minutes},
        "take_profit_partial_pct": None,
        "take_profit_full_pct": take_profit,
    }


# The grids: a take-profit (a share of the fly's credit; a multiple of the strangle's debit) times a stop, and
# the two baselines, so that a structure's own exits are chosen only if they do better on the selection seeds.
GRIDS: dict[str, dict[str, dict[str, Any]]] = {
    THETA: {
        f"tp{tp}-{name}": _fly(tp, loss, breakeven)
        for tp in (25, 50)
        for name, loss, breakeven in (
            ("loss0.5", 0.5, None),  # out when it has lost half its credit
            ("loss1.0", 1.0, None),  # ... its whole credit
            ("breakeven", None, 1.0),  # out when the index reaches a breakeven
        )
    },
    GAMMA: {
        f"tp{tp}-{name}": _strangle(tp, 0.5, minutes)
        for tp in (50, 100)
        for name, minutes in (("time30", 30.0), ("time90", 90.0), ("notime", None))
    },
}
for _strategy_id, _grid in GRIDS.items():
    _grid["hold"] = HOLD[_strategy_id]
    _grid["seed-4d-stop"] = SEED_STOP[_strategy_id]


@dataclass
class Figures:
    """One strategy's figures over some runs (one per seed)."""

    trades: int = 0
    wins: float = 0.0
    pnl: float = 0.0
    fees: float = 0.0
    worst_drawdown: float = 0.0
    per_seed: dict[int, float] = field(default_factory=dict)

    def add(self, seed: int, row: dict[str, Any], fees: float) -> None:
        self.trades += row["trades"]
        self.wins += row["win_rate"] * row["trades"]
        self.pnl += row["pnl"]
        self.fees += fees
        self.worst_drawdown = max(self.worst_drawdown, row["max_drawdown"])
        self.per_seed[seed] = row["pnl"]

    @property
    def win_rate(self) -> float:
        return self.wins / self.trades if self.trades else 0.0


def build_catalogs(root: Path, seeds: Iterable[int]) -> dict[int, Path]:
    """The sample catalog of each seed, built with the CLI the first time."""
    paths = {}
    for seed in seeds:
        path = root / f"seed{seed}"
        if not (path / "odte" / "checked.json").exists():
            print(f"building the sample catalog of seed {seed} in {path}", flush=True)
            odte = str(Path(sys.executable).with_name("odte"))
            cmd = [odte, "catalog", "sample", "--seed", str(seed), "--days", str(DAYS), "--path", str(path)]
            subprocess.run(cmd, check=True, cwd=REPO, stdout=subprocess.DEVNULL)
        paths[seed] = path
    return paths


class Study:
    def __init__(self, out: Path) -> None:
        from odte_nautilus.backtest import load_backtest_config

        self.out = out
        self.base = load_backtest_config(REPO / "configs" / "backtest.yaml")
        self.entries = {self._strategy_id(e): e for e in self.base.strategies}
        self.results_path = out / "results.jsonl"
        self.done: dict[str, dict[str, Any]] = {}
        if self.results_path.exists():
            for line in self.results_path.read_text().splitlines():
                record = json.loads(line)
                self.done[record["key"]] = record

    @staticmethod
    def _strategy_id(entry: dict[str, Any]) -> str:
        name = entry["strategy_path"].rsplit(":", 1)[1]
        return f"{name}-{entry['config']['order_id_tag']}"

    def run(self, key: str, catalog: Path, configs: dict[str, dict[str, Any]]) -> dict[str, Any]:
        """One backtest of the strategies in ``configs`` (id -> config overrides); its summary's figures."""
        if key in self.done:
            return self.done[key]
        from odte_nautilus.backtest import run_backtest

        strategies = []
        for strategy_id, overrides in configs.items():
            entry = json.loads(json.dumps(self.entries[strategy_id]))
            entry["config"].update(overrides)
            strategies.append(entry)
        config = self.base.model_copy(update={"catalog": catalog, "strategies": strategies})
        started = time.monotonic()
        result = run_backtest(config, self.out / "runs" / key)
        summary = result.summary
        record = {
            "key": key,
            "audit_ok": summary["audit"]["ok"],
            "rows": {row["strategy"]: row for row in summary["strategies"]},
            "fees": {s: v["total_paid"] for s, v in summary["fees"]["by_strategy"].items()},
            "seconds": round(time.monotonic() - started, 1),
        }
        if not record["audit_ok"]:
            raise SystemExit(f"{key}: the invariant audit failed: {summary['audit']['violations'][:3]}")
        with self.results_path.open("a") as f:
            f.write(json.dumps(record) + "\n")
        self.done[key] = record
        print(f"  {key}: {record['seconds']} s", flush=True)
        return record


def figures(records: dict[int, dict[str, Any]], strategy_id: str) -> Figures:
    out = Figures()
    for seed, record in records.items():
        row = record["rows"].get(strategy_id)
        if row is not None:
            out.add(seed, row, record["fees"].get(strategy_id, 0.0))
    return out


def table(title: str, rows: list[tuple[str, str, Figures]]) -> str:
    lines = [
        f"**{title}**",
        "",
        "| strategy | exits | trades | P&L | win rate | worst drawdown (a seed) | fees | P&L by seed |",
        "|---|---|---:|---:|---:|---:|---:|---|",
    ]
    for strategy, policy, f in rows:
        seeds = ", ".join(f"{seed}: {pnl:+,.0f}" for seed, pnl in f.per_seed.items())
        lines.append(
            f"| {strategy} | {policy} | {f.trades} | {f.pnl:+,.0f} | {f.win_rate:.0%} | {f.worst_drawdown:,.0f}"
            f" | {f.fees:,.0f} | {seeds} |"
        )
    return "\n".join(lines)


def describe(overrides: dict[str, Any]) -> str:
    ex = {k: v for k, v in overrides["exit"].items() if v is not None}
    tp = overrides.get("take_profit_full_pct")
    partial = overrides.get("take_profit_partial_pct")
    parts = [", ".join(f"{k}={v}" for k, v in ex.items())]
    if partial is not None:
        parts.append(f"take_profit_partial_pct={partial}")
    if tp is not None:
        parts.append(f"take_profit_full_pct={tp}")
    return "; ".join(parts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=REPO / "runs" / "exit_selection")
    args = parser.parse_args()
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    catalogs = build_catalogs(out / "catalogs", SELECTION_SEEDS + HELD_OUT_SEEDS)
    study = Study(out)

    chosen: dict[str, dict[str, Any]] = {}
    selection_rows: list[tuple[str, str, Figures]] = []
    csv = ["phase,strategy,policy,seed,trades,pnl,win_rate,max_drawdown,fees"]
    for strategy_id, grid in GRIDS.items():
        print(f"selection: {strategy_id}, {len(grid)} candidates x {len(SELECTION_SEEDS)} seeds", flush=True)
        scored = []
        for name, overrides in grid.items():
            records = {
                seed: study.run(f"select-{strategy_id}-{name}-seed{seed}", catalogs[seed], {strategy_id: overrides})
                for seed in SELECTION_SEEDS
            }
            f = figures(records, strategy_id)
            scored.append((f.pnl, -f.worst_drawdown, name))
            selection_rows.append((strategy_id, f"{name}: {describe(overrides)}", f))
            for seed, record in records.items():
                row = record["rows"][strategy_id]
                fee = record["fees"].get(strategy_id, 0.0)
                csv.append(
                    f"selection,{strategy_id},{name},{seed},{row['trades']},{row['pnl']},{row['win_rate']},"
                    f"{row['max_drawdown']},{fee}"
                )
        best = max(scored)[2]
        chosen[strategy_id] = {"candidate": best, "config": grid[best]}
        print(f"chosen for {strategy_id}: {best}", flush=True)

    chosen_slug = "-".join(c["candidate"] for c in chosen.values())
    policies = {
        f"chosen ({chosen_slug})": {s: c["config"] for s, c in chosen.items()},
        "hold to the flatten": HOLD,
        "seed's 4-D stop": SEED_STOP,
    }
    held_rows: list[tuple[str, str, Figures]] = []
    for label, configs in policies.items():
        slug = "".join(ch if ch.isalnum() or ch in ".-" else "_" for ch in label)
        records = {
            seed: study.run(f"heldout-{slug}-seed{seed}", catalogs[seed], dict(configs)) for seed in HELD_OUT_SEEDS
        }
        for strategy_id in (THETA, GAMMA, "TOTAL"):
            f = figures(records, strategy_id)
            if strategy_id == "TOTAL":
                f.fees = sum(sum(r["fees"].values()) for r in records.values())
            name = label if strategy_id == "TOTAL" else f"{label}: {describe(configs[strategy_id])}"
            held_rows.append((strategy_id, name, f))
            for seed, record in records.items():
                row = record["rows"].get(strategy_id)
                if row is not None:
                    fees = record["fees"]
                    fee = sum(fees.values()) if strategy_id == "TOTAL" else fees.get(strategy_id, 0.0)
                    csv.append(
                        f"held_out,{strategy_id},{label},{seed},{row['trades']},{row['pnl']},{row['win_rate']},"
                        f"{row['max_drawdown']},{fee}"
                    )

    held_rows.sort(key=lambda r: (r[0] == "TOTAL", r[0]))
    seeds = ", ".join(map(str, HELD_OUT_SEEDS))
    held = table(
        f"Held out: seeds {seeds} ({DAYS} sessions each), both strategies together, never seen by the choice", held_rows
    )
    selection = table(
        f"Selection: seeds {', '.join(map(str, SELECTION_SEEDS))}, each strategy alone; the chosen candidate has"
        " the highest total P&L",
        selection_rows,
    )
    (out / "held_out.md").write_text(held + "\n")
    (out / "selection.md").write_text(selection + "\n")
    (out / "runs.csv").write_text("\n".join(csv) + "\n")
    (out / "chosen.json").write_text(json.dumps(chosen, indent=2) + "\n")
    print()
    print(selection)
    print()
    print(held)
    print(f"\nwritten to {out}")


if __name__ == "__main__":
    main()
