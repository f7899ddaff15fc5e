"""Write plain data (dicts, lists, strings, numbers, booleans, datetimes) as scenario TOML text.

This module owns turning a scenario held as plain data back into TOML that ``tomllib``
reads to the same data: top-level tables as ``[name]``, lists of tables as ``[[name]]``
(with a nested table such as ``params`` as ``[name.params]``), everything deeper inline.
It knows nothing of the scenario schema and checks nothing beyond what TOML can hold.

Example
-------
>>> print(dumps({"scenario": {"name": "x", "duration_s": 3600}, "nodes": [{"id": "a", "lat_deg": 1.5}]}))
[scenario]
name = "x"
duration_s = 3600
<BLANKLINE>
[[nodes]]
id = "a"
lat_deg = 1.5
<BLANKLINE>
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
from typing import Any, Mapping

from emcomm.errors import UsageError

_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


def key(name: str) -> str:
    """A TOML key: bare when it can be, quoted otherwise.

    >>> key("lat_deg"), key("a b")
    ('lat_deg', '"a b"')
    """
    return name if _BARE_KEY.match(name) else _string(name)


def _string(text: str) -> str:
    # a JSON string is a TOML basic string, except that TOML also forbids a raw DEL (0x7f)
    return json.dumps(text, ensure_ascii=False).replace("\x7f", "\\u007f")


def value(v: Any) -> str:
    """One TOML value written inline.

    >>> value([1, 2.5, "x", True, {"a": 1}])
    '[1, 2.5, "x", true, { a = 1 }]'
    """
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if not math.isfinite(v):
            raise UsageError(f"cannot write the non-finite number {v!r} to a scenario file")
        return repr(v)
    if isinstance(v, str):
        return _string(v)
    if isinstance(v, dt.datetime):
        return v.isoformat()
    if isinstance(v, Mapping):
        if not v:
            return "{}"
        return "{ " + ", ".join(f"{key(str(k))} = {value(x)}" for k, x in v.items()) + " }"
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(value(x) for x in v) + "]"
    raise UsageError(f"cannot write a {type(v).__name__} value to a scenario file")


def _is_tables(v: Any) -> bool:
    return isinstance(v, list) and bool(v) and all(isinstance(x, Mapping) for x in v)


def _body(table: Mapping[str, Any], prefix: str, out: list[str]) -> None:
    subtables = []
    for k, v in table.items():
        if isinstance(v, Mapping) and prefix and (len(v) > 3 or any(_is_tables(x) for x in v.values())):
            subtables.append((k, v))     # a big nested table (hazard params) gets its own header
        elif _is_tables(v) and len(v) > 1:
            out.append(f"{key(k)} = [")  # a list of tables: one inline table per line
            out.extend(f"    {value(x)}," for x in v)
            out.append("]")
        else:
            out.append(f"{key(k)} = {value(v)}")
    for k, v in subtables:
        out.append("")
        out.append(f"[{prefix}.{key(k)}]")
        _body(v, f"{prefix}.{key(k)}", out)


def dumps(data: Mapping[str, Any], header: str = "") -> str:
    """The whole document: ``header`` lines become ``#`` comments at the top."""
    out: list[str] = [f"# {line}".rstrip() for line in header.splitlines()]
    if out:
        out.append("")
    for name, v in data.items():
        if isinstance(v, Mapping):
            out.append(f"[{key(name)}]")
            _body(v, key(name), out)
            out.append("")
        elif isinstance(v, list) and all(isinstance(x, Mapping) for x in v):
            for entry in v:
                out.append(f"[[{key(name)}]]")
                _body(entry, key(name), out)
                out.append("")
        else:
            raise UsageError(f"top-level entry {name!r} must be a table or a list of tables")
    return "\n".join(out)
