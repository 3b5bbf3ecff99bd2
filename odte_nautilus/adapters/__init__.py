"""Nautilus adapters of the brokers the paper node trades through, laid out as Nautilus's own adapters."""
