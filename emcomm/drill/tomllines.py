"""Finding the line of a key path (``links[3].kind``) in a TOML text, for error messages.

``tomllib`` gives line numbers only for syntax errors; a schema problem is known by its
key path. This module owns the best-effort mapping back to a line: the n-th ``[[links]]``
header, then the ``kind =`` line inside that table. It never parses values and never
fails: when it cannot tell, it answers ``None`` and the message keeps the key path alone.

Example
-------
>>> text = "[scenario]\\nname = 'x'\\n[[links]]\\nid = 'a'\\n[[links]]\\nid = 'b'\\nkind = 'tiantog'\\n"
>>> line_of(text, ("links", 1, "kind"))
7
>>> format_loc(("links", 1, "kind"))
'links[1].kind'
"""

from __future__ import annotations

import re
from typing import Sequence

_ARRAY = re.compile(r"^\s*\[\[\s*([^\[\]]+?)\s*\]\]")
_TABLE = re.compile(r"^\s*\[\s*([^\[\]]+?)\s*\]")


def format_loc(loc: Sequence[str | int]) -> str:
    """A key path as people read it: ``("nodes", 2, "power", "battery_h")`` → ``nodes[2].power.battery_h``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


def _headers(lines: list[str]) -> list[tuple[int, str, bool]]:
    found = []
    for i, line in enumerate(lines):
        m = _ARRAY.match(line)
        if m:
            found.append((i, m.group(1).replace(" ", ""), True))
            continue
        m = _TABLE.match(line)
        if m:
            found.append((i, m.group(1).replace(" ", ""), False))
    return found


def _key_line(lines: list[str], start: int, end: int, key: str) -> int | None:
    pat = re.compile(r'^\s*["\']?' + re.escape(key) + r'["\']?\s*[=.]')
    for i in range(start, end):
        if pat.match(lines[i]):
            return i
    return None


def line_of(text: str, loc: Sequence[str | int]) -> int | None:
    """1-based line where the key path ``loc`` is written, or None when it cannot be told."""
    if not loc or not isinstance(loc[0], str):
        return None
    lines = text.splitlines()
    headers = _headers(lines)
    top = loc[0]
    rest = list(loc[1:])
    start: int | None = None
    if rest and isinstance(rest[0], int):
        arrays = [h for h in headers if h[1] == top and h[2]]
        if rest[0] < len(arrays):
            start = arrays[rest[0]][0]
        rest = rest[1:]
    else:
        tables = [h for h in headers if h[1] == top and not h[2]] or [h for h in headers if h[1] == top]
        if tables:
            start = tables[0][0]
        else:
            first = headers[0][0] if headers else len(lines)
            hit = _key_line(lines, 0, first, top)
            return None if hit is None else hit + 1
    if start is None:
        return None
    end = next((h[0] for h in headers if h[0] > start and not h[1].startswith(top + ".")), len(lines))
    best = start
    if rest and isinstance(rest[0], str):
        key = rest[0]
        hit = _key_line(lines, start + 1, end, key)
        if hit is None:
            sub = next((h[0] for h in headers if start < h[0] < end and h[1] == f"{top}.{key}"), None)
            hit = sub
        if hit is not None:
            best = hit
            if len(rest) > 1 and isinstance(rest[1], str):
                inner = _key_line(lines, hit + 1, end, rest[1])
                if inner is not None and hit == next((h[0] for h in headers if h[0] == hit), None):
                    best = inner
    return best + 1
