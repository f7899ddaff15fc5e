"""The exception hierarchy: every error emcomm raises on purpose derives from EmcommError.

Rule of this module: *local misuse* (a bad argument, a broken file the user wrote) and
*remote bad input* (a frame from the network) are different branches, so that a caller
can drop remote input and count it while surfacing local mistakes to the user.
Every message says what was wrong and, where it can, how to fix it.
"""

from __future__ import annotations


class EmcommError(Exception):
    """Base of every error emcomm raises on purpose."""


class UsageError(EmcommError):
    """Local misuse: a bad argument, option or configuration given by the user."""


class ScenarioError(UsageError):
    """A scenario file is missing, unreadable or does not follow the schema.

    ``problems`` lists each problem as ``(location, message)``, where location is a
    ``file:line`` or a dotted key path such as ``links[3].kind``.
    """

    def __init__(self, path: str, problems: list[tuple[str, str]]):
        self.path = path
        self.problems = list(problems)
        lines = [f"{path}: {len(self.problems)} problem(s):"]
        lines += [f"  {loc}: {msg}" for loc, msg in self.problems]
        super().__init__("\n".join(lines))


class HazardError(UsageError):
    """A hazard is described with impossible parameters (negative magnitude, empty track...).

    ``key`` names the offending parameter as a path such as ``track[2].lat_deg``
    (``None`` when the problem is not one parameter's); ``detail`` is the message
    without the key, for callers that print the key in their own location format.
    """

    def __init__(self, message: str, key: str | None = None):
        self.key = key
        self.detail = message
        super().__init__(f"{key}: {message}" if key else message)


class DataFileError(UsageError):
    """An input data file (typhoon best track, earthquake event) is unreadable or malformed.

    ``path`` names the file and ``line`` the 1-based line of the problem (``None`` when it
    concerns the whole file); the message says what was found and what is expected.
    """

    def __init__(self, path: str, message: str, line: int | None = None):
        self.path = path
        self.line = line
        self.detail = message
        super().__init__(f"{path}:{line}: {message}" if line is not None else f"{path}: {message}")


class RoutingError(EmcommError):
    """Base of routing failures."""


class UnknownNodeError(RoutingError, UsageError):
    """A node id that the topology does not contain."""


class NoPathError(RoutingError):
    """No usable path exists; the message says which part of the graph is cut off."""


class WeightError(RoutingError, UsageError):
    """A link metric is negative, NaN or otherwise unusable as a weight."""


class MessageTooLargeError(RoutingError):
    """The message is larger than any path towards its destination can carry."""


class RemoteInputError(EmcommError):
    """Bad input from the network: the frame is dropped and counted, the node runs on.

    ``reason`` is a short stable token used as a counter name (``malformed``,
    ``oversize``, ``bad_version``, ``unknown_peer``...).
    """

    def __init__(self, reason: str, detail: str = ""):
        self.reason = reason
        self.detail = detail
        super().__init__(f"{reason}: {detail}" if detail else reason)


class StoreError(EmcommError):
    """The persistent store cannot accept or read data (disk full, corrupt file)."""


class RecordingError(UsageError):
    """A drill recording is missing, truncated before its header, corrupt, or from a newer
    format version than this emcomm reads; the message names the file and the offset."""


class UnknownLinkError(RoutingError, UsageError):
    """A link id that the topology does not contain."""


class TerminalError(EmcommError):
    """A terminal driver cannot do its job: the serial port cannot be opened, the terminal
    stops answering, refuses a command, or a message does not fit the card; the message
    names the port or card and what to check."""


class InteropError(UsageError):
    """A CAP / CoT / GeoJSON document is invalid, hostile (entity expansion, DTD), too large,
    in the wrong namespace or fails its schema; the message names the document and the problem."""
