"""A relay node's run configuration: node.toml or command-line flags → one checked record.

This module owns the *runtime* settings of one node process: its id, the endpoints it
binds (peers, telemetry, local API), its data directory, and its neighbours with the
kind of link to each. It validates them with messages that say what to fix. It does not
open sockets or files beyond reading the TOML, and it knows nothing about the protocol
core's tuning (that is ``NodeCore``'s own config).

node.toml::

    id = "relay1"
    listen = "tcp://127.0.0.1:7001"      # ROUTER socket for peers
    telemetry = "tcp://127.0.0.1:7002"   # PUB socket (optional)
    api = "tcp://127.0.0.1:7003"         # local API (optional; default ipc:// in data_dir)
    tak = "127.0.0.1:8087"               # TAK server: deliveries streamed as CoT (optional)
    data_dir = "relay1-data"             # relative to the file
    emulation = true                     # shape links like their kind
    seed = 1
    store_max_mb = 2000                  # cap on the store file (optional): beyond it nothing new is accepted
    seen_ids_max = 100000                # message ids kept in memory against duplicates (default; ≈ 270 B each)

    [[neighbour]]
    id = "cc"
    endpoint = "tcp://127.0.0.1:7101"
    kind = "hts"
    # link_id = "cc-relay1/hts"          # default: both ends derive the same id
    [neighbour.overrides]                # any LinkProfile override
    rate_up_bps = 2_000_000

Example
-------
>>> cfg = config_from_flags("a", "tcp://127.0.0.1:7001", ["b=tcp://127.0.0.1:7002:tiantong"], "/tmp/a")
>>> cfg.neighbours[0].link_id, cfg.neighbours[0].profile.kind.value
('a-b/tiantong', 'tiantong')
"""

from __future__ import annotations

import dataclasses
import os
import re
import tomllib
from pathlib import Path
from typing import Any, Mapping, Sequence

from emcomm.errors import UsageError
from emcomm.links.profiles import LinkKind, LinkProfile, make_profile

_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$")
_ENDPOINT = re.compile(r"^(tcp://[^:/\s]+:\d{1,5}|ipc://\S+|inproc://\S+)$")
# Unix socket paths are limited to 107 bytes (sun_path in <sys/un.h> on Linux).
_IPC_PATH_MAX = 107

_TOP_KEYS = {"id", "listen", "telemetry", "api", "data_dir", "emulation", "seed", "neighbour", "store_max_mb",
             "seen_ids_max", "identity", "roster", "authority", "insecure", "rate_limits", "terminal", "tak"}
_NB_KEYS = {"id", "endpoint", "kind", "link_id", "overrides"}


@dataclasses.dataclass(frozen=True)
class Neighbour:
    """A peer this node connects to, and the link that joins them."""

    id: str
    endpoint: str
    link_id: str
    profile: LinkProfile


@dataclasses.dataclass(frozen=True)
class RunConfig:
    """Everything the node process needs to start."""

    node_id: str
    listen: str
    data_dir: Path
    neighbours: tuple[Neighbour, ...] = ()
    telemetry: str | None = None
    api: str | None = None
    emulation: bool = True
    seed: int = 0
    store_max_mb: float | None = None
    seen_ids_max: int | None = None       # NodeConfig.seen_ids_max (None: the core's default)
    # security (emcomm.node.security): on when a roster is given, unless insecure is set
    identity: Path | None = None          # directory or identity.key of this node
    roster: Path | None = None            # the authority-signed roster file
    authority: Path | None = None         # the authority's identity.pub (default: the roster's key)
    insecure: bool = False                # drills and quick local tests only: no CURVE, no signatures
    rate_limits: Mapping[str, Any] | None = None   # {"flash": [per_s, burst], ...}
    terminals: tuple[Any, ...] = ()       # emcomm.node.terminal_link.TerminalSpec: links through serial terminals
    tak: str | None = None                # TAK server HOST:PORT; `emcomm node` streams deliveries there as CoT

    @property
    def secure(self) -> bool:
        return self.roster is not None and not self.insecure

    @property
    def api_endpoint(self) -> str:
        """The local API endpoint: as configured, or an ipc:// socket in the data directory."""
        return self.api or default_api_endpoint(self.data_dir)

    @property
    def store_path(self) -> Path:
        return self.data_dir / "node.db"

    def links(self) -> dict[str, Neighbour]:
        """Link id → neighbour on that link."""
        return {n.link_id: n for n in self.neighbours}


def default_link_id(a: str, b: str, kind: LinkKind | str) -> str:
    """The id both ends of a link derive on their own: sorted node ids and the kind.

    >>> default_link_id("relay1", "cc", "hts")
    'cc-relay1/hts'
    """
    k = kind.value if isinstance(kind, LinkKind) else LinkKind.parse(kind).value
    lo, hi = sorted((a, b))
    return f"{lo}-{hi}/{k}"


def default_api_endpoint(data_dir: Path) -> str:
    """``ipc://<data_dir>/api.sock``; refuses paths too long for a Unix socket."""
    path = os.path.join(os.path.abspath(data_dir), "api.sock")
    if len(path.encode()) > _IPC_PATH_MAX:
        raise UsageError(
            f"the data directory path is too long for the local API socket ({len(path)} > {_IPC_PATH_MAX} bytes); "
            "give an explicit api endpoint (--api tcp://127.0.0.1:PORT)")
    return f"ipc://{path}"


def check_endpoint(value: Any, what: str) -> str:
    """Check a ZeroMQ endpoint (tcp://host:port, ipc://path or inproc://name)."""
    if not isinstance(value, str) or not _ENDPOINT.match(value):
        raise UsageError(f"{what} must be an endpoint like tcp://127.0.0.1:7001 or ipc:///tmp/x.sock, got {value!r}")
    if value.startswith("tcp://"):
        port = int(value.rsplit(":", 1)[1])
        if not 0 < port < 65536:
            raise UsageError(f"{what}: port {port} is outside 1..65535")
    return value


def check_host_port(value: Any, what: str) -> str:
    """Check a ``HOST:PORT`` address (a TAK server's streaming input).

    >>> check_host_port("127.0.0.1:8087", "tak")
    '127.0.0.1:8087'
    """
    if isinstance(value, str) and ":" in value:
        host, _, port = value.rpartition(":")
        if host and not any(c.isspace() or c == "/" for c in host) and port.isdigit() and 0 < int(port) < 65536:
            return value
    raise UsageError(f"{what} must be HOST:PORT like 127.0.0.1:8087, got {value!r}")


def check_node_id(value: Any, what: str = "node id") -> str:
    if not isinstance(value, str) or not _ID.match(value):
        raise UsageError(f"{what} must be 1–64 letters, digits, '_', '-' or '.', starting with a letter or digit; got {value!r}")
    return value


def _neighbour(own: str, raw: Mapping[str, Any], where: str) -> Neighbour:
    if not isinstance(raw, Mapping):
        raise UsageError(f"{where} must be a table with id, endpoint and kind")
    unknown = set(raw) - _NB_KEYS
    if unknown:
        raise UsageError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}; expected {', '.join(sorted(_NB_KEYS))}")
    for key in ("id", "endpoint", "kind"):
        if key not in raw:
            raise UsageError(f"{where}: missing '{key}'")
    nid = check_node_id(raw["id"], f"{where}.id")
    if nid == own:
        raise UsageError(f"{where}: a node cannot be its own neighbour ({nid!r})")
    endpoint = check_endpoint(raw["endpoint"], f"{where}.endpoint")
    if not isinstance(raw["kind"], str):
        raise UsageError(f"{where}.kind must be a link kind name, got {raw['kind']!r}")
    overrides = raw.get("overrides") or {}
    if not isinstance(overrides, Mapping):
        raise UsageError(f"{where}.overrides must be a table of profile figures")
    try:
        profile = make_profile(raw["kind"], overrides)
    except UsageError as exc:
        raise UsageError(f"{where}: {exc}") from None
    link_id = raw.get("link_id") or default_link_id(own, nid, profile.kind)
    if not isinstance(link_id, str) or not link_id or len(link_id) > 128:
        raise UsageError(f"{where}.link_id must be a non-empty string of at most 128 characters")
    return Neighbour(nid, endpoint, link_id, profile)


def config_from_mapping(raw: Mapping[str, Any], *, base_dir: Path, source: str = "node config") -> RunConfig:
    """Check a parsed node.toml (or an equivalent dict) and build the RunConfig.

    Relative ``data_dir`` paths are taken relative to ``base_dir``.
    """
    unknown = set(raw) - _TOP_KEYS
    if unknown:
        raise UsageError(f"{source}: unknown key(s) {', '.join(sorted(unknown))}; expected {', '.join(sorted(_TOP_KEYS))}")
    for key in ("id", "listen"):
        if key not in raw:
            raise UsageError(f"{source}: missing '{key}'")
    node_id = check_node_id(raw["id"], f"{source}: id")
    listen = check_endpoint(raw["listen"], f"{source}: listen")
    telemetry = check_endpoint(raw["telemetry"], f"{source}: telemetry") if raw.get("telemetry") else None
    api = check_endpoint(raw["api"], f"{source}: api") if raw.get("api") else None
    tak = check_host_port(raw["tak"], f"{source}: tak") if "tak" in raw else None
    data_dir = Path(raw.get("data_dir") or f"{node_id}-data")
    if not data_dir.is_absolute():
        data_dir = base_dir / data_dir
    emulation = raw.get("emulation", True)
    if not isinstance(emulation, bool):
        raise UsageError(f"{source}: emulation must be true or false, got {emulation!r}")
    seed = raw.get("seed", 0)
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise UsageError(f"{source}: seed must be an integer, got {seed!r}")
    store_max_mb = raw.get("store_max_mb")
    if store_max_mb is not None and (isinstance(store_max_mb, bool) or not isinstance(store_max_mb, (int, float))
                                     or store_max_mb <= 0):
        raise UsageError(f"{source}: store_max_mb must be a positive number of megabytes, got {store_max_mb!r}")
    seen_ids_max = raw.get("seen_ids_max")
    if seen_ids_max is not None and (isinstance(seen_ids_max, bool) or not isinstance(seen_ids_max, int)
                                     or seen_ids_max < 1):
        raise UsageError(f"{source}: seen_ids_max must be a whole number of message ids >= 1, got {seen_ids_max!r}")
    raw_nb = raw.get("neighbour", [])
    if not isinstance(raw_nb, list):
        raise UsageError(f"{source}: neighbours are given as [[neighbour]] tables")
    neighbours = tuple(_neighbour(node_id, nb, f"{source}: neighbour[{i}]") for i, nb in enumerate(raw_nb))
    terminals: tuple[Any, ...] = ()
    if "terminal" in raw:
        from emcomm.node.terminal_link import terminal_specs   # drivers and pyserial only when configured
        terminals = terminal_specs(node_id, raw["terminal"], source)
    seen_links: set[str] = set()
    for n in (*neighbours, *terminals):
        if n.link_id in seen_links:
            raise UsageError(f"{source}: link {n.link_id!r} is configured twice; give one of them its own link_id")
        seen_links.add(n.link_id)
    endpoints = [e for e in (listen, telemetry, api) if e]
    if len(set(endpoints)) != len(endpoints):
        raise UsageError(f"{source}: listen, telemetry and api must be different endpoints")
    sec_paths: dict[str, Path | None] = {}
    for key in ("identity", "roster", "authority"):
        v = raw.get(key)
        if v is not None and (not isinstance(v, str) or not v):
            raise UsageError(f"{source}: {key} must be a file or directory path, got {v!r}")
        sec_paths[key] = None if v is None else (Path(v) if Path(v).is_absolute() else base_dir / v)
    insecure = raw.get("insecure", False)
    if not isinstance(insecure, bool):
        raise UsageError(f"{source}: insecure must be true or false, got {insecure!r}")
    if sec_paths["roster"] is not None and not insecure and sec_paths["identity"] is None:
        raise UsageError(f"{source}: a roster is given, so this node needs its identity "
                         "(identity = \"DIR\" from `emcomm keygen`), or insecure = true for a local test")
    rate_limits = raw.get("rate_limits")
    if rate_limits is not None and not isinstance(rate_limits, Mapping):
        raise UsageError(f"{source}: rate_limits is a table like {{flash = [5, 50]}}")
    return RunConfig(node_id, listen, data_dir, neighbours, telemetry, api, emulation, seed,
                     float(store_max_mb) if store_max_mb is not None else None, seen_ids_max,
                     identity=sec_paths["identity"], roster=sec_paths["roster"], authority=sec_paths["authority"],
                     insecure=insecure, rate_limits=rate_limits, terminals=terminals, tak=tak)


def load_config(path: str | os.PathLike[str]) -> RunConfig:
    """Read and check a node.toml file."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UsageError(f"node config {p} not found; create it (see `emcomm node --help`) or pass flags") from None
    except OSError as exc:
        raise UsageError(f"node config {p} cannot be read: {exc.strerror}") from None
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"node config {p} is not valid TOML: {exc}") from None
    return config_from_mapping(raw, base_dir=p.resolve().parent, source=str(p))


def parse_neighbour_flag(text: str) -> dict[str, Any]:
    """``ID=ENDPOINT:KIND`` → a neighbour table.

    >>> parse_neighbour_flag("cc=tcp://127.0.0.1:7101:hts")
    {'id': 'cc', 'endpoint': 'tcp://127.0.0.1:7101', 'kind': 'hts'}
    """
    if "=" not in text or ":" not in text.split("=", 1)[1]:
        raise UsageError(f"--neighbour {text!r}: expected ID=ENDPOINT:KIND, e.g. cc=tcp://127.0.0.1:7101:hts")
    nid, rest = text.split("=", 1)
    endpoint, kind = rest.rsplit(":", 1)
    return {"id": nid, "endpoint": endpoint, "kind": kind}


def config_from_flags(node_id: str, listen: str, neighbours: Sequence[str], data_dir: str | None,
                      *, telemetry: str | None = None, api: str | None = None,
                      emulation: bool = True, seed: int = 0, identity: str | None = None,
                      roster: str | None = None, insecure: bool = False) -> RunConfig:
    """Build a RunConfig from command-line flags (same checks as a node.toml)."""
    raw: dict[str, Any] = {"id": node_id, "listen": listen, "emulation": emulation, "seed": seed,
                           "neighbour": [parse_neighbour_flag(n) for n in neighbours]}
    if data_dir:
        raw["data_dir"] = data_dir
    if telemetry:
        raw["telemetry"] = telemetry
    if api:
        raw["api"] = api
    for key, value in (("identity", identity), ("roster", roster)):
        if value:
            raw[key] = value
    if insecure:
        raw["insecure"] = True
    return config_from_mapping(raw, base_dir=Path.cwd(), source="flags")
