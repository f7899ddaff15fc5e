"""Drivers for real terminals: sans-I/O protocol state machines plus a thin serial transport."""
