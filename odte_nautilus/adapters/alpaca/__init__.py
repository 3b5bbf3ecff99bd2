"""The Alpaca adapter: option packages as ``mleg`` orders on alpaca-py, paper accounts only (design §5, §14).

Laid out as Nautilus's own adapters: ``config``, ``providers``, ``data``, ``execution``, ``factories``; with
``symbols`` (OCC symbols both ways), ``http`` (rate-limited REST off the loop), ``parsing`` (orders and
reports on the wire) and ``fills`` (the cumulative fill book).
"""

from odte_nautilus.adapters.alpaca.config import AlpacaDataClientConfig, AlpacaExecClientConfig
from odte_nautilus.adapters.alpaca.factories import AlpacaLiveDataClientFactory, AlpacaLiveExecClientFactory
from odte_nautilus.adapters.alpaca.symbols import ALPACA, ALPACA_VENUE

__all__ = [
    "ALPACA",
    "ALPACA_VENUE",
    "AlpacaDataClientConfig",
    "AlpacaExecClientConfig",
    "AlpacaLiveDataClientFactory",
    "AlpacaLiveExecClientFactory",
]
