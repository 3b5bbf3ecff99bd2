"""Risk policy: typed, validated configuration for the kernel, loaded from YAML in ``configs/risk/``.

Two profiles ship (design §7): ``single_position_0dte`` (seed 000) and ``multi_strategy_paper``
(seed 003). A bad file is refused at load with an error naming the file, the key and the reason: a risk
limit that silently falls back to a default is a wish, not a limit.

Every profile carries every one of seed 000's shared invariants, each present in the file and within a
sane band (issue 7, class 9); a profile may be stricter than the band, never looser:

- ``invariants``: ``no_naked_short``, ``forbid_add_to_loser`` and ``forbid_reverse_without_flat`` are
  required and must be true. ``one_position_only`` and ``long_only`` are seed 000's *live system's* shape,
  not shared invariants: seed 003's paper profile runs several packages and sells covered iron flies.
- ``max_trades_per_day`` is required, 2-5 (seed 000: "capped low (2-5 across systems)").
- ``loss_streak`` is required: 1 <= ``half_size_after`` < ``stop_after``, 2 <= ``stop_after`` <= 5 (seed
  000: 2 -> half size, 3 -> stop). 5 is the highest trade cap: the streak resets with the trading day, so a
  guard that lets more losses in a row through than any profile may trade in a day guards nothing. A size
  cut keeps at most half the size (``size_factor`` <= 0.5, the seed's "halve"; the same for the ladder).
- ``drawdown_ladder`` is required, hard stop 0.5-5 % of NAV (seed 000: soft 1.5 %, hard 2 %). It is the
  daily hard stop every profile must have: it scales with the NAV, so its bound means something. A dollar
  ``global_limits.max_daily_loss`` (seed 003's $3,000) is an additional stop, never a substitute: without
  the NAV a dollar limit cannot be bounded ($100,000 is 100 % of a $100,000 account), and it carries no
  soft stop. With both, whichever is reached first locks the day.
- ``eod`` is required: ``flatten_minutes_before_close`` 10-60 (seed 000 and design §9: 15:45, i.e.
  15) and ``force_cancel_all_before_eod_flatten`` must be true.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import time
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal, Self

import yaml
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, model_validator

RISK_PROFILE_DIR = Path(__file__).resolve().parent.parent / "configs" / "risk"

# Sane bands for seed 000's invariants (see the module docstring for why each bound is where it is).
MIN_TRADES_PER_DAY, MAX_TRADES_PER_DAY = 2, 5  # seed 000: "capped low (2-5 across systems)"
MAX_STREAK_STOP = MAX_TRADES_PER_DAY  # no more losses in a row than any profile may trade in a day
MAX_SIZE_CUT_FACTOR = 0.5  # a size cut keeps at most half: seed 000 "halve size"
MIN_HARD_STOP_PCT, MAX_HARD_STOP_PCT = 0.5, 5.0  # % of NAV; seed 000 locks the day at 2 %
MIN_FLATTEN_MINUTES, MAX_FLATTEN_MINUTES = 10, 60  # before the close; seed 000 flattens at 15:45 (15)


class PolicyError(ValueError):
    """A risk policy file that cannot be trusted. The message names the file, the key and the reason."""


def _must_be_true(value: bool) -> bool:
    if value is not True:
        raise ValueError("must be true: it holds in every profile (seed 000, design §7)")
    return value


AlwaysTrue = Annotated[bool, AfterValidator(_must_be_true)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=False)


class Invariants(_Strict):
    """Seed 000's configuration-level invariants, verbatim names.

    The three shared ones must be written in the file, and written true. ``one_position_only`` and
    ``long_only`` belong to seed 000's live system only (design §7), so they may be false.
    """

    one_position_only: bool = False
    long_only: bool = False
    no_naked_short: AlwaysTrue
    forbid_add_to_loser: AlwaysTrue
    forbid_reverse_without_flat: AlwaysTrue


class DrawdownLadder(_Strict):
    """Seed 000: soft stop at 1.5 % of NAV cuts size, hard stop at 2 % locks the day.

    The hard stop is bounded to 0.5-5 % of NAV: above 5 % (2.5 times the seed's) it is no daily stop for a
    0DTE book, and below 0.5 % it is most likely a fraction typed where a percentage belongs (0.02 for 2 %).
    """

    soft_stop_pct: float = Field(gt=0, lt=MAX_HARD_STOP_PCT)
    hard_stop_pct: float = Field(ge=MIN_HARD_STOP_PCT, le=MAX_HARD_STOP_PCT)
    soft_stop_size_factor: float = Field(default=0.5, gt=0, le=MAX_SIZE_CUT_FACTOR)

    @model_validator(mode="after")
    def _soft_below_hard(self) -> Self:
        if self.soft_stop_pct >= self.hard_stop_pct:
            raise ValueError(f"soft_stop_pct ({self.soft_stop_pct}) must be below hard_stop_pct ({self.hard_stop_pct})")
        return self


class LossStreak(_Strict):
    """Seed 000: two consecutive losses halve size, three stop the day.

    ``stop_after`` is at most 5, the highest allowed trade cap: the streak resets with the day, so a guard
    that lets more losses in a row through than any profile may trade in a day guards nothing.
    """

    half_size_after: int = Field(ge=1)
    stop_after: int = Field(ge=2, le=MAX_STREAK_STOP)
    size_factor: float = Field(default=0.5, gt=0, le=MAX_SIZE_CUT_FACTOR)

    @model_validator(mode="after")
    def _half_before_stop(self) -> Self:
        if self.half_size_after >= self.stop_after:
            raise ValueError(f"half_size_after ({self.half_size_after}) must be below stop_after ({self.stop_after})")
        return self


class Eod(_Strict):
    """design §9: flatten at close - 15 min, cancelling working orders first; then the day locks.

    Both keys are required. The flatten is 10-60 minutes before the close: under 10 there is no time left
    to cancel, then work multi-leg closes through the close's widening spreads before expiry (one minute
    before the close is an expiry, not a flatten); over 60 it is no longer an end-of-day flatten but a
    shorter session, which belongs in the strategies' entry windows.
    """

    flatten_minutes_before_close: int = Field(ge=MIN_FLATTEN_MINUTES, le=MAX_FLATTEN_MINUTES)
    force_cancel_all_before_eod_flatten: AlwaysTrue


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


def _wall_clock(value: str | None) -> str | None:
    if value is not None:
        try:
            time.fromisoformat(value)
        except ValueError:
            raise ValueError(f"must be a New York wall-clock time HH:MM, got {value!r}") from None
    return value


class FourDimensionalExit(_Strict):
    """The seed's four-dimensional stop, with the profile's numbers (``stop``, or the strategy's own)."""

    kind: Literal["four_dimensional"] = "four_dimensional"


class HoldExit(_Strict):
    """No stop: held to the EOD flatten, unless a take-profit closes it (a baseline)."""

    kind: Literal["hold"] = "hold"


class IronFlyExit(_Strict):
    """A short iron butterfly's exit, in its credit and breakevens (``risk/exits.py``); None: off."""

    kind: Literal["iron_fly"] = "iron_fly"
    loss_credit_multiple: float | None = Field(default=1.0, gt=0)  # stop when it has lost this many credits
    breakeven_fraction: float | None = Field(default=None, gt=0, le=2)  # of the way from the body to a breakeven
    time_exit: Annotated[str | None, AfterValidator(_wall_clock)] = None  # New York HH:MM, before the flatten


class StrangleExit(_Strict):
    """A long strangle's exit, in its debit and its thesis (``risk/exits.py``); None: off."""

    kind: Literal["strangle"] = "strangle"
    loss_debit_fraction: float | None = Field(default=0.5, gt=0, lt=1)  # stop when this share of the debit is lost
    time_stop_minutes: float | None = Field(default=60.0, gt=0)  # the move has not paid by then: out


ExitPolicy = Annotated[FourDimensionalExit | HoldExit | IronFlyExit | StrangleExit, Field(discriminator="kind")]
EXIT_POLICY_KINDS = ("four_dimensional", "hold", "iron_fly", "strangle")
_EXIT_POLICY: TypeAdapter[FourDimensionalExit | HoldExit | IronFlyExit | StrangleExit] = TypeAdapter(ExitPolicy)


def parse_exit_policy(
    raw: Mapping[str, Any] | None, where: str
) -> FourDimensionalExit | HoldExit | IronFlyExit | StrangleExit:
    """A strategy config's ``exit`` mapping, typed; None is the seed's four-dimensional stop. Refused loudly."""
    if raw is None:
        return FourDimensionalExit()
    try:
        return _EXIT_POLICY.validate_python(dict(raw))
    except ValidationError as exc:
        first = exc.errors()[0]
        key = ".".join(str(p) for p in first["loc"]) or "(top level)"
        message = first["msg"].removeprefix("Value error, ")
        if first["type"] == "extra_forbidden":
            message = "unknown key (a typo? unknown keys are refused, never ignored)"
        elif first["type"] in ("union_tag_invalid", "union_tag_not_found"):
            message = f"kind must be one of {', '.join(EXIT_POLICY_KINDS)}"
        raise PolicyError(f"{where}: exit.{key}: {message}") from None


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
    # The profile's exit policy for this strategy; when set, it wins over the strategy config's ``exit``.
    exit: ExitPolicy | None = None

    @model_validator(mode="after")
    def _size_range(self) -> Self:
        if not self.min_contracts <= self.base_contracts <= self.max_contracts:
            raise ValueError(
                f"contracts must satisfy min ({self.min_contracts}) <= base ({self.base_contracts})"
                f" <= max ({self.max_contracts})"
            )
        return self


class RiskPolicy(_Strict):
    """One profile. Seed 000's invariants are required sections (module docstring); the optional sections
    are seed 003's rules, left out where they do not apply (see the two shipped profiles)."""

    profile: str
    invariants: Invariants
    require_paper: bool = True
    max_trades_per_day: int = Field(ge=MIN_TRADES_PER_DAY, le=MAX_TRADES_PER_DAY)
    drawdown_ladder: DrawdownLadder  # the daily hard stop every profile has (% of NAV, bounded)
    loss_streak: LossStreak
    eod: Eod
    global_limits: GlobalLimits | None = None  # a dollar daily stop on top of the ladder, never instead
    breakers: Breakers | None = None
    rate_limits: RateLimits | None = None
    strategies: dict[str, StrategyLimits] = Field(default_factory=dict)
    stop: FourDimensionalStop = FourDimensionalStop()
    # The exit policy of every strategy under this profile (seed 000's live profile: its four-dimensional
    # stop); a strategy's own ``strategies.<key>.exit`` wins over it, and either wins over a strategy config.
    exit: ExitPolicy | None = None

    def exit_for(self, strategy_id: str) -> FourDimensionalExit | HoldExit | IronFlyExit | StrangleExit | None:
        """The exit policy the profile imposes on a strategy, or None: the strategy config's ``exit`` decides."""
        limits = self.strategy(strategy_id)
        return limits.exit if limits is not None and limits.exit is not None else self.exit

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
        elif first["type"] == "missing":
            message = "required key missing (every profile must carry it; a risk limit never falls back to a default)"
        more = f" (and {exc.error_count() - 1} more problem(s))" if exc.error_count() > 1 else ""
        raise PolicyError(f"{path}: {key}: {message}{more}") from None
