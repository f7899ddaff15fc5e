"""An open-addressing table from the Python hashes of the link ids to link indices, for
resolving thousands of ids at once (a hazard zone failing a tenth of the links).

Owns only the table and its probe. A Python dict lookup per id costs several dependent
cache misses; here the probes are independent, so the CPU overlaps their misses. A hash
match is only a candidate: the caller confirms each one (identity, then equality).
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True)
def build_table(link_hash, table):
    """Fill ``table`` (size a power of two ≥ 2 × links, all -1) with link indices at
    ``hash & mask``, linear probing."""
    mask = table.size - 1
    for j in range(link_hash.size):
        i = link_hash[j] & mask
        while table[i] >= 0:
            i = (i + 1) & mask
        table[i] = j


@njit(cache=True)
def probe(table, link_hash, hashes, out):
    """``out[k]`` = first link whose hash equals ``hashes[k]`` (-1 when none)."""
    mask = table.size - 1
    for k in range(hashes.size):
        h = hashes[k]
        i = h & mask
        found = -1
        while True:
            j = table[i]
            if j < 0:
                break
            if link_hash[j] == h:
                found = j
                break
            i = (i + 1) & mask
        out[k] = found
