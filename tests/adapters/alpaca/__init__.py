"""The Alpaca adapter: pure parts, and the real alpaca-py clients against the simulator."""
