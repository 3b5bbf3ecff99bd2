"""The sweep's runs: every parameter set (the grid's product, then the listed runs) over every date range.

Each run is the base backtest config with its parameters written in, and is named by a hash of exactly
that config (and of its risk profile when a ``risk.*`` parameter changed it). The name is the run's folder,
so a rerun of the same sweep finds the runs it has already finished (``execute.finished``), and a changed
grid redoes only the runs whose config changed.
"""

from __future__ import annotations

import copy
import hashlib
import itertools
import json
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import msgspec
import yaml
from nautilus_trader.common.config import resolve_config_path

from odte_nautilus.data.catalog_io import catalog_sessions
from odte_nautilus.sweep.config import RISK_PREFIX, Sweep, SweepConfigError, profile_path, strategy_name


@dataclass(frozen=True)
class RunSpec:
    """One backtest of the sweep, as a worker process needs it (plain data: it crosses to Ray and the pool)."""

    key: str  # the run's folder name: a hash of its backtest config and risk profile
    index: int  # its place in the sweep (grid order, then date ranges), for the table
    params: dict[str, Any]  # the value of every parameter of the sweep in this run
    start: date
    end: date
    days: int  # sessions with option quotes in [start, end]
    backtest: dict[str, Any]  # the run's backtest config (its backtest.yaml)
    risk: dict[str, Any] | None  # the run's own risk profile, when a risk.* parameter changed it
    part: str | None = None  # "3/12": a part of a split range, which starts as a fresh account (decision 0010)

    def label(self) -> str:
        params = " ".join(f"{k}={v}" for k, v in self.params.items())
        return f"{params} {self.start}..{self.end}".strip()


@dataclass(frozen=True)
class Expansion:
    runs: list[RunSpec]
    duplicates: int  # parameter sets that gave the same config as an earlier one (run once)


def expand(sweep: Sweep) -> Expansion:
    """Every run of the sweep, in order: each parameter set over each date range."""
    ranges = date_ranges(sweep)
    base = sweep.base.model_dump(mode="json")
    base["catalog"] = str(sweep.base.catalog.resolve())
    runs: list[RunSpec] = []
    seen: set[str] = set()
    for params in parameter_sets(sweep):
        values = {key: params[key] if key in params else current_value(sweep, key) for key in sweep.parameters}
        for start, end, days, part in ranges:
            backtest, risk = apply(base, params)
            backtest.update(start=start.isoformat(), end=end.isoformat())
            key = run_key(backtest, risk)
            if key in seen:
                continue
            seen.add(key)
            runs.append(RunSpec(key, len(runs), values, start, end, days, backtest, risk, part))
    total = len(ranges) * len(parameter_sets(sweep))
    return Expansion(runs, total - len(runs))


def parameter_sets(sweep: Sweep) -> list[dict[str, Any]]:
    """The grid's product in file order, then the listed runs; one empty set when there is neither."""
    grid = sweep.config.grid
    sets = [dict(zip(grid, combo, strict=True)) for combo in itertools.product(*grid.values())] if grid else []
    sets += [dict(run) for run in sweep.config.runs]
    return sets or [{}]


def date_ranges(sweep: Sweep) -> list[tuple[date, date, int, str | None]]:
    """(first session, last session, sessions, part) of each date range, a ``split`` cut into consecutive
    parts named ``k/N``; each part is its own run and starts as a fresh account (docs/decisions/0010)."""
    catalog = sweep.base.catalog
    try:
        days = sorted({s.session.trading_date for s in catalog_sessions(catalog)})
    except (OSError, ValueError) as exc:
        raise SweepConfigError(f"{catalog}: cannot list the catalog's sessions: {exc}") from None
    if not days:
        raise SweepConfigError(
            f"{catalog}: no option quotes in this catalog (build one: odte catalog sample --path {catalog})"
        )
    out = []
    for i, rng in enumerate(sweep.config.dates):
        chosen = [d for d in days if (rng.start is None or d >= rng.start) and (rng.end is None or d <= rng.end)]
        if not chosen:
            raise SweepConfigError(
                f"{sweep.path}: dates.{i}: no session of {catalog} between {rng.start or 'its first'} and"
                f" {rng.end or 'its last'} (the catalog has {days[0]} to {days[-1]})"
            )
        parts = min(rng.split or 1, len(chosen))
        size, extra = divmod(len(chosen), parts)
        at = 0
        for part in range(parts):
            n = size + (part < extra)
            out.append((chosen[at], chosen[at + n - 1], n, f"{part + 1}/{parts}" if parts > 1 else None))
            at += n
    return out


def apply(base: dict[str, Any], params: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """The backtest config with ``params`` written in, and the risk profile if a ``risk.*`` key changed it.

    Backtest keys go first, so that a ``risk_profile`` parameter picks the profile the ``risk.*`` keys change.
    """
    backtest = copy.deepcopy(base)
    strategies = {strategy_name(s): s for s in backtest["strategies"]}
    risk_keys = {k: v for k, v in params.items() if k.startswith(RISK_PREFIX)}
    for key, value in params.items():
        if key in risk_keys:
            continue
        head, _, rest = key.partition(".")
        if head in strategies:
            strategies[head].setdefault("config", {})[rest] = value
        else:
            _set(backtest, key.split("."), value)
    if Path(backtest["risk_profile"]).suffix:  # a profile given by path: the workers may run elsewhere
        backtest["risk_profile"] = str(Path(backtest["risk_profile"]).resolve())
    if not risk_keys:
        return backtest, None
    risk = yaml.safe_load(profile_path(backtest["risk_profile"]).read_text())
    for key, value in risk_keys.items():
        _set(risk, key.removeprefix(RISK_PREFIX).split("."), value)
    return backtest, risk


def current_value(sweep: Sweep, key: str) -> Any:
    """What a run that does not set ``key`` uses: the base config's value, or the strategy config's default."""
    head, _, rest = key.partition(".")
    for entry in sweep.base.strategies:
        if strategy_name(entry) == head:
            if rest in (entry.get("config") or {}):
                return entry["config"][rest]
            fields = msgspec.structs.fields(resolve_config_path(entry["config_path"]))
            default = next(f.default for f in fields if f.name == rest)
            return None if default is msgspec.NODEFAULT else default
    node: Any = sweep.risk_profile if key.startswith(RISK_PREFIX) else sweep.base.model_dump(mode="json")
    for part in key.removeprefix(RISK_PREFIX).split(".") if key.startswith(RISK_PREFIX) else key.split("."):
        node = node.get(part) if isinstance(node, dict) else None
    return node


def run_key(backtest: dict[str, Any], risk: dict[str, Any] | None) -> str:
    text = json.dumps({"backtest": backtest, "risk": risk}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def _set(node: dict[str, Any], path: list[str], value: Any) -> None:
    for part in path[:-1]:
        node = node.setdefault(part, {})
    node[path[-1]] = copy.deepcopy(value)
