"""Interactive Brokers through NautilusTrader's own IB adapter, with the project's rules for IB's races.

``config`` builds the adapter's client configs for an SPXW 0DTE session (the chain of today's expiry and the
``^SPX`` index, IB's simplified symbology, the paper gateway), ``execution`` is Nautilus's execution client with
tentative cancels, package-first fills at the package's price, and BAG contracts for the strategies' spreads,
``data`` is Nautilus's data client saying while a new subscription waits for its first quote, and
``factories`` hands both to a ``TradingNode``.
"""
