"""Adapters: the real broker clients against the loopback simulators."""
