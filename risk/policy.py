"""Risk policy: typed, validated configuration for the kernel, loaded from YAML in ``configs/risk/``.

Two profiles ship (DESIGN decision 7): ``single_position_0dte`` (seed 000) and ``multi_strategy_paper``
(seed 003). A bad file is refused at load with an error naming the file, the key and the reason: a risk
limit that silently falls back to a default is a wish, not a limit.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Self

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

RISK_PROFILE_DIR = Path(__file__).resolve().parent.parent / "configs" / "risk"


class PolicyError(ValueError):
    """A risk policy file that cannot be trusted. The message names the file, the key and the reason."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=False)


class Invariants(_Strict):
    """Seed 000's configuration-level invariants, verbatim names."""

    one_position_only: bool = False
    long_only: bool = False
    no_naked_short: bool = True
    forbid_add_to_loser: bool = True
    forbid_reverse_without_flat: bool = True

    @model_validator(mode="after")
    def _always_on(self) -> Self:
        for key in ("no_naked_short", "forbid_add_to_loser", "forbid_reverse_without_flat"):
            if not getattr(self, key):
                raise ValueError(f"{key} must be true: it holds in every profile (DESIGN decision 7)")
        return self


class DrawdownLadder(_Strict):
    """Seed 000: soft stop at 1.5 % of NAV cuts size, hard stop at 2 % locks the day."""

    soft_stop_pct: float = Field(gt=0, le=100)
    hard_stop_pct: float = Field(gt=0, le=100)
    soft_stop_size_factor: float = Field(default=0.5, gt=0, lt=1)

    @model_validator(mode="after")
    def _soft_below_hard(self) -> Self:
        if self.soft_stop_pct >= self.hard_stop_pct:
            raise ValueError(
                f"soft_stop_pct ({self.soft_stop_pct}) must be below hard_stop_pct ({self.hard_stop_pct})"
            )
        return self


class LossStreak(_Strict):
    """Seed 000: two consecutive losses halve size, three stop the day."""

    half_size_after: int = Field(ge=1)
    stop_after: int = Field(ge=1)
    size_factor: float = Field(default=0.5, gt=0, lt=1)

    @model_validator(mode="after")
    def _half_before_stop(self) -> Self:
        if self.half_size_after >= self.stop_after:
            raise ValueError(
                f"half_size_after ({self.half_size_after}) must be below stop_after ({self.stop_after})"
            )
        return self


class Eod(_Strict):
    """DESIGN decision 9: flatten at close - 15 min, cancelling working orders first; then the day locks."""

    flatten_minutes_before_close: int = Field(default=15, ge=1, le=120)
    force_cancel_all_before_eod_flatten: bool = True

    @model_validator(mode="after")
    def _cancel_first(self) -> Self:
        if not self.force_cancel_all_before_eod_flatten:
            raise ValueError("force_cancel_all_before_eod_flatten must be true (seed 000)")
        return self


class GlobalLimits(_Strict):
    """Seed 003 global limits; a daily loss beyond ``max_daily_loss`` is the hard stop."""

    max_open_risk: float = Field(gt=0)
    max_daily_loss: float = Field(gt=0)
    max_open_packages: int = Field(ge=1)


class Breakers(_Strict):
    """Seed 003 circuit breakers."""

    global_daily_loss: float = Field(gt=0)  # trips RISK-OFF; manual reset only
    strategy_loss_fraction: float = Field(default=0.5, gt=0, le=1)  # of the strategy's max daily loss
    position_size_multiple: float = Field(default=3.0, gt=1)  # > multiple x base size -> capped


class RateLimits(_Strict):
    """Seed 003: no more than N packages a minute per strategy, M an hour in total."""

    packages_per_minute_per_strategy: int = Field(ge=1)
    packages_per_hour_total: int = Field(ge=1)


class FourDimensionalStop(_Strict):
    """Seed 000's four-dimensional stop. Hard dimensions every 100 ms, slow ones every 5 s."""

    premium_stop_pct: float = Field(default=35.0, gt=0, lt=100)
    adverse_underlying_points: float = Field(default=10.0, gt=0)
    no_progress_minutes: float = Field(default=8.0, gt=0)
    progress_points: float = Field(default=5.0, gt=0)
    iv_crush_premium_pct: float = Field(default=20.0, gt=0, lt=100)
    iv_crush_max_underlying_points: float = Field(default=2.0, gt=0)  # "while SPX barely moves"
    hard_interval_ms: int = Field(default=100, ge=1)
    slow_interval_s: float = Field(default=5.0, gt=0)

    @model_validator(mode="after")
    def _crush_below_stop(self) -> Self:
        if self.iv_crush_premium_pct >= self.premium_stop_pct:
            raise ValueError(
                f"iv_crush_premium_pct ({self.iv_crush_premium_pct}) must be below premium_stop_pct"
                f" ({self.premium_stop_pct}): otherwise the premium stop always fires first"
            )
        return self


class StrategyLimits(_Strict):
    """Seed 003 per-strategy limits (per symbol where the seed says so)."""

    max_open_risk_per_symbol: float = Field(gt=0)
    max_open_packages_per_symbol: int = Field(ge=1)
    max_daily_loss: float = Field(gt=0)
    min_contracts: int = Field(default=1, ge=1)
    max_contracts: int = Field(ge=1)
    base_contracts: int = Field(default=1, ge=1)
    # The profile's four-dimensional stop, tuned for this strategy's package (None: the profile's own).
    # Seed 000 wrote its numbers for a long-premium system; a short iron fly's wings already bound its loss.
    stop: FourDimensionalStop | None = None

    @model_validator(mode="after")
    def _size_range(self) -> Self:
        if not self.min_contracts <= self.base_contracts <= self.max_contracts:
            raise ValueError(
                f"contracts must satisfy min ({self.min_contracts}) <= base ({self.base_contracts})"
                f" <= max ({self.max_contracts})"
            )
        return self


class RiskPolicy(_Strict):
    """One profile. Sections left out are rules that do not apply to it (see the two shipped profiles)."""

    profile: str
    invariants: Invariants
    require_paper: bool = True
    max_trades_per_day: int | None = Field(default=None, ge=2, le=5)  # seed 000: "capped low (2-5)"
    drawdown_ladder: DrawdownLadder | None = None
    loss_streak: LossStreak | None = None
    eod: Eod = Eod()
    global_limits: GlobalLimits | None = None
    breakers: Breakers | None = None
    rate_limits: RateLimits | None = None
    strategies: dict[str, StrategyLimits] = Field(default_factory=dict)
    stop: FourDimensionalStop = FourDimensionalStop()

    @model_validator(mode="after")
    def _has_daily_hard_stop(self) -> Self:
        if self.drawdown_ladder is None and self.global_limits is None:
            raise ValueError(
                "a profile needs a daily hard stop: give drawdown_ladder (% of NAV) or global_limits"
                " (max_daily_loss in dollars)"
            )
        return self

    def stop_for(self, strategy_id: str) -> FourDimensionalStop:
        """The four-dimensional stop a strategy's packages are armed with."""
        limits = self.strategy(strategy_id)
        return limits.stop if limits is not None and limits.stop is not None else self.stop

    def strategy(self, strategy_id: str) -> StrategyLimits | None:
        """Limits for a strategy id; ``ThetaHarvester-001`` matches the key ``theta_harvester``."""
        return self.strategies.get(strategy_key(strategy_id))


@lru_cache(maxsize=1024)
def strategy_key(strategy_id: str) -> str:
    """Map a Nautilus strategy id (``ThetaHarvester-001``) or a config key to the policy's key."""
    name = strategy_id.split("-", 1)[0]
    out = []
    for i, ch in enumerate(name):
        if ch.isupper() and i and not name[i - 1].isupper() and name[i - 1] != "_":
            out.append("_")
        out.append(ch.lower())
    return "".join(out)


def load_policy(source: str | Path) -> RiskPolicy:
    """Load a profile by name (``multi_strategy_paper``) or path, refusing anything doubtful."""
    path = Path(source)
    if not path.suffix and not path.exists():
        path = RISK_PROFILE_DIR / f"{source}.yaml"
    if not path.is_file():
        known = ", ".join(sorted(p.stem for p in RISK_PROFILE_DIR.glob("*.yaml")))
        raise PolicyError(f"{path}: no such risk profile file (shipped profiles: {known})")
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise PolicyError(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(raw, dict):
        raise PolicyError(f"{path}: expected a mapping of keys at the top level, got {type(raw).__name__}")
    try:
        return RiskPolicy.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        key = ".".join(str(p) for p in first["loc"]) or "(top level)"
        message = first["msg"].removeprefix("Value error, ")
        if first["type"] == "extra_forbidden":
            message = "unknown key (a typo? unknown keys are refused, never ignored)"
        more = f" (and {exc.error_count() - 1} more problem(s))" if exc.error_count() > 1 else ""
        raise PolicyError(f"{path}: {key}: {message}{more}") from None
