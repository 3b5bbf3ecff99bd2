"""The configs of Nautilus's IB data and execution clients for an SPXW 0DTE session (nautilus-1.231.md §11).

- **Instruments:** the ``^SPX`` index (the strategies' minute bars, and the options' underlying) and the
  option chain of the session's expiry. The expiry is pinned (``lastTradeDateOrContractMonth``): the
  provider's ``min_expiry_days`` counts from midnight UTC and would drop today's expiry in the session.
- **Symbology:** IB's simplified ids, ``SPXW  240315C05100000.CBOE`` (the OCC symbol with its root padded
  to six) and ``^SPX.CBOE``: the venue is the exchange the chain is asked on, as in the catalog.
- **Routing:** IB is multi-venue, so both clients are the node's default route for every venue.
- **Timestamps:** IB should be set to send UTC (the gateway's setting); the simulator does.
"""

from __future__ import annotations

from datetime import date

from nautilus_trader.adapters.interactive_brokers.common import IBContract
from nautilus_trader.adapters.interactive_brokers.config import (
    InteractiveBrokersDataClientConfig,
    InteractiveBrokersExecClientConfig,
    InteractiveBrokersInstrumentProviderConfig,
    SymbologyMethod,
)
from nautilus_trader.config import RoutingConfig

IB = "IB"  # the node's client key for Interactive Brokers
CHAIN_EXCHANGE = "CBOE"
INDEX_ID = "^SPX.CBOE"
REQUEST_TIMEOUT_SECONDS = 60  # a full chain's contract details take tens of seconds on a real gateway


def spxw_provider_config(session: date) -> InteractiveBrokersInstrumentProviderConfig:
    """The ``^SPX`` index and every SPXW contract expiring on ``session``."""
    index = IBContract(
        secType="IND",
        symbol="SPX",
        exchange=CHAIN_EXCHANGE,
        build_options_chain=True,
        lastTradeDateOrContractMonth=f"{session:%Y%m%d}",
        options_chain_exchange=CHAIN_EXCHANGE,
    )
    return InteractiveBrokersInstrumentProviderConfig(
        symbology_method=SymbologyMethod.IB_SIMPLIFIED, load_contracts=frozenset([index])
    )


def ib_client_configs(
    host: str, port: int, client_id: int, account: str, session: date
) -> tuple[InteractiveBrokersDataClientConfig, InteractiveBrokersExecClientConfig]:
    """The data and execution client configs, sharing one API connection (one client id) and one provider."""
    provider = spxw_provider_config(session)
    data = InteractiveBrokersDataClientConfig(
        ibg_host=host,
        ibg_port=port,
        ibg_client_id=client_id,
        instrument_provider=provider,
        use_regular_trading_hours=True,
        request_timeout_secs=REQUEST_TIMEOUT_SECONDS,
        routing=RoutingConfig(default=True),
    )
    execution = InteractiveBrokersExecClientConfig(
        ibg_host=host,
        ibg_port=port,
        ibg_client_id=client_id,
        account_id=account,
        instrument_provider=provider,
        request_timeout_secs=REQUEST_TIMEOUT_SECONDS,
        routing=RoutingConfig(default=True),
    )
    return data, execution
