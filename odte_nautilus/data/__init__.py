"""Market data: the calibrated synthetic SPXW 0DTE catalog, vendor importers, and load-time schema checks.

Sessions (open, close, early closes) come from the one exchange calendar, ``odte_nautilus.risk.session``.
Modules, in the order data flows: ``underlyings``/``symbology``/``ticks`` (contract facts, pure) ->
``market_model`` and ``chain`` (the synthetic market) or ``import_databento``/``import_csv`` via
``importing`` (real data) -> ``checks`` (refuse bad data) -> ``catalog_io`` (the files) -> ``catalog_check``
(the checks over a catalog on disk, at every load) -> ``stats``/``calibration`` (sanity figures). ``cli`` is
``odte catalog``.
"""
