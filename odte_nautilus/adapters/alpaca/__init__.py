"""The Alpaca adapter: option packages as ``mleg`` orders on alpaca-py, paper accounts only (design §5, §14)."""
