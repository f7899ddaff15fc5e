"""Message priority classes. National emergency needs come first.

FLASH (life safety, national emergency command) > IMMEDIATE > PRIORITY > ROUTINE.
A lower number is a higher class, so sorting by value sends the most urgent first.
"""

from __future__ import annotations

import enum


class Priority(enum.IntEnum):
    FLASH = 0
    IMMEDIATE = 1
    PRIORITY = 2
    ROUTINE = 3

    @classmethod
    def parse(cls, text: "str | int | Priority") -> "Priority":
        """Parse ``"flash"``, ``"FLASH"``, ``0`` or a Priority.

        >>> Priority.parse("flash")
        <Priority.FLASH: 0>
        """
        if isinstance(text, Priority):
            return text
        if isinstance(text, int):
            try:
                return cls(text)
            except ValueError:
                pass
        elif isinstance(text, str) and text.upper() in cls.__members__:
            return cls[text.upper()]
        names = ", ".join(m.name.lower() for m in cls)
        from emcomm.errors import UsageError

        raise UsageError(f"unknown priority {text!r}; expected one of: {names}")


PRIORITY_COUNT = len(Priority)
