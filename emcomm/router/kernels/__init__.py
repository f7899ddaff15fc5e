"""Numba kernels of the router: arrays in, arrays out.

Rule of this package: every kernel is ``@njit(cache=True)``, takes only NumPy arrays and
scalars, allocates nothing it can be handed, and knows no node names, policies or errors
(the ``Router`` translates). One module per algorithm.
"""
