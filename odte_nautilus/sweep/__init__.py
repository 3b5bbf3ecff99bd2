"""``odte sweep``: a grid of backtests over a catalog, on a local process pool or a Ray cluster (design §16)."""
