"""Hazard models: flood, fire, earthquake, typhoon → link and node state over time."""
