"""The client factories of the IB node: Nautilus's own, building the project's data and execution clients.

Nautilus caches one IB API client per (host, port, client id) and one instrument provider per config, and the
data and execution clients share them; this factory reuses both caches so the node still opens one API
connection.
"""

from __future__ import annotations

import asyncio
import os

from nautilus_trader.adapters.interactive_brokers.client import InteractiveBrokersClient
from nautilus_trader.adapters.interactive_brokers.common import IB_VENUE
from nautilus_trader.adapters.interactive_brokers.config import (
    InteractiveBrokersDataClientConfig,
    InteractiveBrokersExecClientConfig,
)
from nautilus_trader.adapters.interactive_brokers.factories import (
    get_cached_ib_client,
    get_cached_interactive_brokers_instrument_provider,
)
from nautilus_trader.adapters.interactive_brokers.providers import InteractiveBrokersInstrumentProvider
from nautilus_trader.cache.cache import Cache
from nautilus_trader.common.component import LiveClock, MessageBus
from nautilus_trader.live.factories import LiveDataClientFactory, LiveExecClientFactory
from nautilus_trader.model.identifiers import AccountId

from odte_nautilus.adapters.ib.data import OdteInteractiveBrokersDataClient
from odte_nautilus.adapters.ib.execution import OdteInteractiveBrokersExecutionClient


def _connection(
    loop: asyncio.AbstractEventLoop,
    config: InteractiveBrokersDataClientConfig | InteractiveBrokersExecClientConfig,
    msgbus: MessageBus,
    cache: Cache,
    clock: LiveClock,
) -> tuple[InteractiveBrokersClient, InteractiveBrokersInstrumentProvider]:
    """The node's one API client for (host, port, client id) and its one instrument provider, from Nautilus's
    caches: the data and execution clients share both."""
    client = get_cached_ib_client(
        loop=loop,
        msgbus=msgbus,
        cache=cache,
        clock=clock,
        host=config.ibg_host,
        port=config.ibg_port,
        client_id=config.ibg_client_id,
        dockerized_gateway=config.dockerized_gateway,
        fetch_all_open_orders=getattr(config, "fetch_all_open_orders", False),
        request_timeout_secs=config.request_timeout_secs,
    )
    provider = get_cached_interactive_brokers_instrument_provider(
        client=client, clock=clock, config=config.instrument_provider
    )
    return client, provider


class OdteInteractiveBrokersDataClientFactory(LiveDataClientFactory):
    @staticmethod
    def create(  # type: ignore[override]
        loop: asyncio.AbstractEventLoop,
        name: str,
        config: InteractiveBrokersDataClientConfig,
        msgbus: MessageBus,
        cache: Cache,
        clock: LiveClock,
    ) -> OdteInteractiveBrokersDataClient:
        client, provider = _connection(loop, config, msgbus, cache, clock)
        return OdteInteractiveBrokersDataClient(
            loop=loop,
            client=client,
            msgbus=msgbus,
            cache=cache,
            clock=clock,
            instrument_provider=provider,
            ibg_client_id=config.ibg_client_id,
            config=config,
            name=name,
            connection_timeout=config.connection_timeout,
        )


class OdteInteractiveBrokersExecClientFactory(LiveExecClientFactory):
    @staticmethod
    def create(  # type: ignore[override]
        loop: asyncio.AbstractEventLoop,
        name: str,
        config: InteractiveBrokersExecClientConfig,
        msgbus: MessageBus,
        cache: Cache,
        clock: LiveClock,
    ) -> OdteInteractiveBrokersExecutionClient:
        client, provider = _connection(loop, config, msgbus, cache, clock)
        account = config.account_id or os.environ.get("TWS_ACCOUNT")
        if not account:
            raise ValueError("the IB execution client needs an account: set account_id or TWS_ACCOUNT")
        return OdteInteractiveBrokersExecutionClient(
            loop=loop,
            client=client,
            account_id=AccountId(f"{name or IB_VENUE.value}-{account}"),
            msgbus=msgbus,
            cache=cache,
            clock=clock,
            instrument_provider=provider,
            config=config,
            name=name,
            connection_timeout=config.connection_timeout,
            track_option_exercise_from_position_update=config.track_option_exercise_from_position_update,
        )
