"""SWEEP.yaml: which backtest to vary, which parameters over which values, over which date ranges.

A sweep is the project's own backtest (``configs/backtest.yaml`` by default) with some of its keys replaced,
run after run. Every parameter *key* is checked here, before anything runs, against the backtest config, the
strategy config classes it names and the risk profile: a typo is refused with the file and the key. Parameter
*values* are checked by the run itself (``load_backtest_config``, the strategy, ``load_policy``), so a bad
value fails its own run, reported with its error, and the other runs go on.

Parameter keys, as written in ``grid:`` and ``runs:``:

- ``<Strategy>.<key>``: a key of that strategy's config (``ThetaHarvester.wing_points``); ``<Strategy>`` is the
  class name at the end of its ``strategy_path``;
- ``risk.<path>``: a key of the run's risk profile (``risk.loss_streak.stop_after``);
- ``<path>``: any other key of the backtest config (``starting_balance``, ``risk_profile``,
  ``fees.overrides.commission``), except ``catalog``, ``start``, ``end`` and ``strategies``, which the sweep
  sets itself.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import msgspec
import yaml
from nautilus_trader.common.config import resolve_config_path
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from odte_nautilus.backtest import DEFAULT_CONFIG, BacktestConfig, BacktestConfigError, load_backtest_config
from odte_nautilus.risk.policy import RISK_PROFILE_DIR

RISK_PREFIX = "risk."
SWEEP_SET = ("catalog", "start", "end", "strategies")  # backtest keys the sweep itself sets, never a parameter


class SweepConfigError(ValueError):
    """A SWEEP.yaml that cannot be run; the message names the file and the key."""


class DateRange(BaseModel):
    """``{start: 2024-07-22, end: 2024-08-30}`` (either may be left out), or ``{split: 4}``: the sessions in
    the range, cut into that many consecutive parts of (nearly) equal length, one run each."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    start: date | None = None
    end: date | None = None
    split: int | None = Field(default=None, ge=1)

    @model_validator(mode="after")
    def _ordered(self) -> DateRange:
        if self.start is not None and self.end is not None and self.start > self.end:
            raise ValueError(f"start {self.start} is after end {self.end}")
        return self


class SweepConfig(BaseModel):
    """The SWEEP.yaml file (``configs/sweep.yaml``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    backtest: Path = DEFAULT_CONFIG
    catalog: Path | None = None
    strategies: list[str] | None = Field(default=None, min_length=1)
    grid: dict[str, list[Any]] = Field(default_factory=dict)
    runs: list[dict[str, Any]] = Field(default_factory=list)
    dates: list[DateRange] = Field(default_factory=lambda: [DateRange()], min_length=1)
    workers: int | None = Field(default=None, ge=1)

    @model_validator(mode="after")
    def _values_listed(self) -> SweepConfig:
        for key, values in self.grid.items():
            if not values:
                raise ValueError(f"grid.{key}: no values (give at least one)")
        return self


class Sweep(BaseModel):
    """A checked sweep: its file, its config and the base backtest config every run starts from."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    path: Path
    config: SweepConfig
    base: BacktestConfig
    risk_profile: dict[str, Any]  # the base's risk profile file, as read (the risk.* parameters replace keys in it)

    @property
    def parameters(self) -> list[str]:
        """Every parameter key, in the order the file names them (grid first, then the runs)."""
        keys = dict.fromkeys(self.config.grid)
        for run in self.config.runs:
            keys.update(dict.fromkeys(run))
        return list(keys)


def strategy_name(entry: dict[str, Any]) -> str:
    """``ThetaHarvester`` for ``odte_nautilus.strategies.theta_harvester:ThetaHarvester``."""
    return str(entry["strategy_path"]).rsplit(":", 1)[-1]


def load_sweep_config(path: str | Path, catalog: Path | None = None) -> Sweep:
    """Read SWEEP.yaml, the backtest config it names and its risk profile, and check every parameter key."""
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise SweepConfigError(f"{path}: cannot read the sweep config: {exc}") from exc
    if not isinstance(raw, dict):
        raise SweepConfigError(f"{path}: expected a mapping of keys at the top level, got {type(raw).__name__}")
    try:
        config = SweepConfig.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        key = ".".join(str(p) for p in first["loc"]) or "(top level)"
        message = first["msg"].removeprefix("Value error, ")
        if first["type"] == "extra_forbidden":
            message = "unknown key (a typo? unknown keys are refused, never ignored)"
        raise SweepConfigError(f"{path}: {key}: {message}") from None
    try:
        base = load_backtest_config(config.backtest, catalog=catalog or config.catalog)
    except BacktestConfigError as exc:
        raise SweepConfigError(f"{exc} (the backtest of {path})") from None
    base = _keep_strategies(base, config, path)
    profile = yaml.safe_load(profile_path(base.risk_profile).read_text())  # load_backtest_config checked it
    sweep = Sweep(path=path, config=config, base=base, risk_profile=profile)
    for where, params in [("grid", config.grid), *((f"runs.{i}", run) for i, run in enumerate(config.runs))]:
        for key in params:
            problem = parameter_problem(key, base, profile)
            if problem:
                raise SweepConfigError(f"{path}: {where}.{key}: {problem}")
    return sweep


def _keep_strategies(base: BacktestConfig, config: SweepConfig, path: Path) -> BacktestConfig:
    """The base config with only the strategies the sweep names (all of them when it names none)."""
    known = [strategy_name(s) for s in base.strategies]
    duplicated = sorted({n for n in known if known.count(n) > 1})
    if duplicated:
        raise SweepConfigError(
            f"{path}: backtest: {config.backtest} runs {', '.join(duplicated)} more than once; a"
            " parameter key names a strategy by its class, so give each class one entry"
        )
    names = config.strategies
    if names is None:
        return base
    unknown = [n for n in names if n not in known]
    if unknown:
        raise SweepConfigError(
            f"{path}: strategies: {', '.join(unknown)} not in the backtest config (it has: {', '.join(known)})"
        )
    return base.model_copy(update={"strategies": [s for s in base.strategies if strategy_name(s) in names]})


def profile_path(source: str) -> Path:
    """The file ``load_policy`` reads for a profile name or path (the same rule)."""
    path = Path(source)
    return RISK_PROFILE_DIR / f"{source}.yaml" if not path.suffix and not path.exists() else path


def parameter_problem(key: str, base: BacktestConfig, profile: dict[str, Any]) -> str | None:
    """Why ``key`` cannot be a parameter of runs built on ``base`` and ``profile``; None if it can."""
    head, _, rest = key.partition(".")
    strategies = {strategy_name(s): s for s in base.strategies}
    if head in strategies:
        if not rest or "." in rest:
            return f"name one key of {head}'s config after the dot, e.g. {head}.<key>"
        fields = _strategy_fields(strategies[head])
        if rest not in fields:
            return f"{head}'s config has no key {rest!r} (it has: {', '.join(sorted(fields))})"
        return None
    if key.startswith(RISK_PREFIX):
        node: Any = profile
        for part in key.removeprefix(RISK_PREFIX).split("."):
            if not isinstance(node, dict) or part not in node:
                return f"the risk profile ({base.risk_profile}) has no key {key.removeprefix(RISK_PREFIX)!r}"
            node = node[part]
        return None
    if head in SWEEP_SET:
        return f"{head} is set by the sweep itself (catalog:, dates: and strategies: of the sweep config)"
    if head not in BacktestConfig.model_fields:
        names = ", ".join([*strategies, "risk.<key>", *(f for f in BacktestConfig.model_fields if f not in SWEEP_SET)])
        return f"unknown parameter: not a strategy, a risk key or a backtest config key ({names})"
    return None


def _strategy_fields(entry: dict[str, Any]) -> set[str]:
    return {f.name for f in msgspec.structs.fields(resolve_config_path(entry["config_path"]))}
