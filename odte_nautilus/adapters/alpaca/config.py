"""Configs of the Alpaca data and execution clients: frozen data, checked once at the edge.

This adapter trades paper accounts only (design §14): a config that names a live host, or ``paper=False``,
is refused when it is built, before any client exists. ``None`` URLs mean Alpaca's paper hosts (alpaca-py's
defaults with ``paper=True``); the project's simulator is named by its loopback URLs. The paper guards of
the live node (account ``PA…``, ``BROKER_MODE``, distinct keys) run on top of this, not instead of it.
"""

from __future__ import annotations

from urllib.parse import urlparse

from nautilus_trader.config import LiveDataClientConfig, LiveExecClientConfig

from odte_nautilus.fees import fee_schedule

PAPER_HOSTS = frozenset({"paper-api.alpaca.markets"})
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


class AlpacaConfigError(ValueError):
    """A config that could reach a live account, or that cannot work at all."""


def check_trading_url(url: str | None, key: str) -> None:
    """A trading URL (REST or ``trade_updates``) must be the paper host or loopback; None is the paper host."""
    if url is None:
        return
    host = urlparse(url).hostname or ""
    if host not in PAPER_HOSTS | LOOPBACK_HOSTS:
        raise AlpacaConfigError(
            f"{key}={url!r}: the Alpaca adapter trades paper accounts only; use the paper host "
            f"(https://paper-api.alpaca.markets) or the simulator on loopback"
        )


def check_common(paper: bool, underlyings: tuple[str, ...], max_requests_per_minute: int) -> None:
    if not paper:
        raise AlpacaConfigError("paper=False: the Alpaca adapter trades paper accounts only")
    if not underlyings:
        raise AlpacaConfigError("underlyings: name at least one (SPY, QQQ)")
    if not 10 <= max_requests_per_minute <= 200:
        raise AlpacaConfigError(
            f"max_requests_per_minute={max_requests_per_minute}: Alpaca allows 200 a minute per account"
        )


class AlpacaDataClientConfig(LiveDataClientConfig, frozen=True, kw_only=True):
    """Option quotes (msgpack ``OptionDataStream``), the underlying's quotes and minute bars (``StockDataStream``).

    ``base_url_http`` is the trading REST base the instrument provider lists contracts from (alpaca-py
    appends ``/v2``); the stream URLs are complete (``ws://127.0.0.1:PORT/v1beta1/indicative``).
    """

    api_key: str
    api_secret: str
    base_url_http: str | None = None
    # Market-data REST (a leg's latest quote on subscription). None: the host of ``base_url_http`` when that is
    # given (the simulator serves both), else Alpaca's data host - so a loopback config never reaches out.
    data_url_http: str | None = None
    option_stream_url: str | None = None
    stock_stream_url: str | None = None
    option_feed: str = "indicative"
    stock_feed: str = "iex"
    paper: bool = True
    underlyings: tuple[str, ...] = ("SPY",)
    max_requests_per_minute: int = 200
    http_timeout_secs: float = 10.0
    max_retries: int = 3
    retry_delay_secs: float = 0.5

    def __post_init__(self) -> None:
        check_trading_url(self.base_url_http, "base_url_http")
        check_common(self.paper, self.underlyings, self.max_requests_per_minute)


class AlpacaExecClientConfig(LiveExecClientConfig, frozen=True, kw_only=True):
    """One ``mleg`` order per package over REST, fills from ``trade_updates``.

    ``account_id`` is the account number (``PA…``) the node expects; the client refuses to connect to
    another. ``max_retries`` is how often a network error is retried, always with the same client order id.
    ``poll_interval_secs`` is how often working orders are read back over REST, so that an update lost with
    a dropped websocket is booked anyway. ``fee_schedule`` (odte_nautilus/fees.py) is charged per contract on
    every leg fill, as the backtest charges it: Alpaca bills its regulatory fees apart from the fill.
    """

    api_key: str
    api_secret: str
    base_url_http: str | None = None
    trade_stream_url: str | None = None
    paper: bool = True
    account_id: str | None = None
    underlyings: tuple[str, ...] = ("SPY",)
    max_requests_per_minute: int = 200
    http_timeout_secs: float = 10.0
    max_retries: int = 3
    retry_delay_secs: float = 0.5
    poll_interval_secs: float = 5.0
    fee_schedule: str = "alpaca-spy"

    def __post_init__(self) -> None:
        check_trading_url(self.base_url_http, "base_url_http")
        check_trading_url(self.trade_stream_url, "trade_stream_url")
        fee_schedule(self.fee_schedule)  # an unknown schedule is refused with the config
        check_common(self.paper, self.underlyings, self.max_requests_per_minute)
        if self.account_id is not None and not self.account_id.startswith("PA"):
            raise AlpacaConfigError(f"account_id={self.account_id!r}: a paper account number starts with PA")
