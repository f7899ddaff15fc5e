"""Give the C heap's free memory back to the operating system after a busy spell.

A relay under load allocates and frees frames, records and batches by the hundred thousand;
glibc keeps most of what is freed in its heap, so a node's RSS stays at its busiest level
long after the load has gone (measured with ``benchmarks/relay_memory_bench.py``: 144-148 MB
after 500,000 relayed messages, 112 MB with the heap trimmed). ``malloc_trim(0)`` returns the
free pages. This module owns only that call; when to make it is the runtime's choice. On a C
library without ``malloc_trim`` (musl, macOS) ``trim`` does nothing and says so.
"""

from __future__ import annotations

import ctypes
import ctypes.util
from typing import Callable


def _malloc_trim() -> Callable[[int], int] | None:
    name = ctypes.util.find_library("c")
    try:
        fn = ctypes.CDLL(name).malloc_trim if name else None
    except (OSError, AttributeError):
        return None
    if fn is not None:
        fn.argtypes, fn.restype = [ctypes.c_size_t], ctypes.c_int
    return fn


_TRIM = _malloc_trim()


def trim() -> bool:
    """Return the heap's free memory to the system; False where the C library cannot.

    >>> isinstance(trim(), bool)
    True
    """
    if _TRIM is None:
        return False
    _TRIM(0)
    return True
