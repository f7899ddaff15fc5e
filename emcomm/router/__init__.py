"""The topology graph, its compilation to arrays, and the Numba routing kernels."""
