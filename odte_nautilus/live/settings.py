"""The live node's settings: ``configs/paper.yaml`` (checked once, at the edge) and the keys from the environment.

Keys never live in a config file: the file names the environment variables that hold them, and the values
come from the process environment or ``.env.local`` (git-ignored), the environment winning. Paper and live
settings are separate files (seed 003); the node runs only a paper one, which the guards check.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import yaml
from nautilus_trader.config import ImportableStrategyConfig
from pydantic import BaseModel, ConfigDict, Field, ValidationError

REPO_ROOT = Path(__file__).resolve().parents[2]
PAPER_CONFIG = REPO_ROOT / "configs" / "paper.yaml"
ENV_FILE = Path(".env.local")


class SettingsError(ValueError):
    """A live config that cannot be run; the message names the file and the key."""


class AlpacaSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    base_url: str = "https://paper-api.alpaca.markets"
    data_url: str = "https://data.alpaca.markets"  # market-data REST: a leg's latest quote when subscribed
    trade_stream_url: str = "wss://paper-api.alpaca.markets/stream"
    option_stream_url: str = "wss://stream.data.alpaca.markets/v1beta1/indicative"
    stock_stream_url: str = "wss://stream.data.alpaca.markets/v2/iex"
    key_env: str = "ALPACA_PAPER_API_KEY"
    secret_env: str = "ALPACA_PAPER_SECRET_KEY"
    live_key_env: str = "ALPACA_LIVE_API_KEY"  # read only to prove the paper key differs from it
    max_requests_per_minute: int = Field(default=190, ge=10, le=200)


class IbSettings(BaseModel):
    """``ib:``: the paper gateway the IB node and its watchdog connect to (brokers.md B2).

    The port is not a safety guarantee (a gateway can listen anywhere), so the guards also require every
    managed account to be a paper ``DU`` account and the traded account to be among them
    (``odte_nautilus/live/ib_guards.py``). The account number comes from the environment variable named by
    ``account_env`` (Nautilus's own ``TWS_ACCOUNT``). The node and the watchdog are separate API clients, so
    they need different client ids.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    host: str = "127.0.0.1"
    port: int = Field(default=4002, ge=1, le=65535)  # IB Gateway paper; TWS paper is 7497
    client_id: int = Field(default=11, ge=0)
    watchdog_client_id: int = Field(default=12, ge=0)
    preflight_client_id: int = Field(default=13, ge=0)  # odte preflight's one read-only connection
    account_env: str = "TWS_ACCOUNT"
    heartbeat_seconds: float = Field(default=5.0, gt=0)  # how often the node writes its heartbeat
    heartbeat_timeout_seconds: float = Field(default=60.0, gt=0)  # a node silent this long is hung or dead
    # IB does not liquidate expiring options early as Alpaca does: the profile's own flatten (close - 15 min).
    flatten_minutes_before_close: int = Field(default=15, ge=10, le=60)
    # The strategies on SPXW ($5 strikes), as in configs/backtest.yaml; empty: the top-level list.
    strategies: list[dict[str, Any]] = Field(default_factory=list)


class AlertSettings(BaseModel):
    """``alerts:``: where the node's alerts are pushed (``odte_nautilus/live/alerts.py``), as apprise URLs.

    A URL that carries a secret (a Slack token, an SMTP password) belongs in the environment variable named
    by ``urls_env`` (or ``.env.local``), not here: it holds more URLs, separated by spaces or commas.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    urls: list[str] = Field(default_factory=list)
    urls_env: str = "ODTE_ALERT_URLS"
    retries: int = Field(default=3, ge=0, le=10)  # after the first attempt, per target
    retry_backoff_seconds: float = Field(default=2.0, ge=0, le=60)  # doubles after each failed attempt
    queue_size: int = Field(default=1000, ge=1)


class ControlSettings(BaseModel):
    """The control API and dashboard the node serves (``odte_nautilus/live/control/``; design §15).

    Loopback by default: reaching the port is enough for the risk-reducing actions, and the token named by
    ``token_env`` (its value in the environment or ``.env.local``, never here) is needed for the
    risk-increasing ones. Any other host needs ``allow_remote: true`` and then a token on every route.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535)  # 0: any free port (tests)
    token_env: str = "ODTE_CONTROL_TOKEN"
    allow_remote: bool = False


class LiveSettings(BaseModel):
    """``configs/paper.yaml``. ``flatten_minutes_before_close`` overrides the risk profile's EOD for this
    broker: Alpaca liquidates expiring SPY/QQQ options from about 15:15 ET, so the default flattens at 15:10."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    mode: Literal["paper", "live"]
    broker: Literal["alpaca", "ib"] = "alpaca"
    underlying: Literal["SPY", "QQQ", "SPX"] = "SPY"
    risk_profile: str = "multi_strategy_paper"
    flatten_minutes_before_close: int = Field(default=50, ge=10, le=60)
    starting_balance: float = Field(default=100_000.0, gt=0)
    state_dir: Path = Path("state")
    logs_dir: Path = Path("logs")
    live_config: Path | None = Path("configs/live.yaml")
    reconcile_every_seconds: int = Field(default=300, ge=10)
    alpaca: AlpacaSettings = Field(default_factory=AlpacaSettings)
    ib: IbSettings = Field(default_factory=IbSettings)
    control: ControlSettings = Field(default_factory=ControlSettings)
    alerts: AlertSettings = Field(default_factory=AlertSettings)
    strategies: list[dict[str, Any]] = Field(min_length=1)

    def importable(self, underlying: str | None = None, venue: str = "ALPACA") -> list[ImportableStrategyConfig]:
        """The strategies, each pointed at ``<underlying>.<venue>`` (the node trades one underlying)."""
        name = underlying or self.underlying
        return [
            ImportableStrategyConfig(**{**s, "config": {**s["config"], "underlying_id": f"{name}.{venue}"}})
            for s in self.strategies
        ]


def on_ib(settings: LiveSettings) -> LiveSettings:
    """The settings as the IB node reads them: SPXW, the ``ib:`` flatten and the ``ib:`` strategies."""
    ib = settings.ib
    update: dict[str, Any] = {"broker": "ib", "underlying": "SPX"}
    update["flatten_minutes_before_close"] = ib.flatten_minutes_before_close
    if ib.strategies:
        update["strategies"] = ib.strategies
    return settings.model_copy(update=update)


def load_settings(path: str | Path = PAPER_CONFIG) -> LiveSettings:
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise SettingsError(f"{path}: cannot read the live config: {exc}") from exc
    try:
        return LiveSettings.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        key = ".".join(str(p) for p in first["loc"]) or "(top level)"
        raise SettingsError(f"{path}: {key}: {first['msg']}") from None


def read_env_file(path: Path = ENV_FILE) -> dict[str, str]:
    """``KEY=VALUE`` lines of ``.env.local`` (blank lines and ``#`` comments skipped, quotes stripped)."""
    if not path.is_file():
        return {}
    values = {}
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        key, sep, value = text.removeprefix("export ").partition("=")
        if not sep or not key.strip():
            raise SettingsError(f"{path}: line {number}: expected KEY=VALUE")
        values[key.strip()] = value.strip().strip("\"'")
    return values


def environment(env_file: Path = ENV_FILE, env: Mapping[str, str] = os.environ) -> dict[str, str]:
    """The process environment over ``.env.local``: what the guards and the clients read."""
    return {**read_env_file(env_file), **env}
