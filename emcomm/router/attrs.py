"""Names of the node and edge attributes of the topology graph (a NetworkX MultiGraph).

This module is the contract between whoever builds the graph (scenarios, a live
node's link-state database) and whoever reads it (router compilation, UI, drills).

Nodes: id is the node id string. Edges: the MultiGraph key is the link id string.
Every edge carries all of EDGE_METRICS plus ``kind`` and ``up``.
"""

from __future__ import annotations

# node attributes
NODE_NAME = "name"
NODE_LAT = "lat_deg"
NODE_LON = "lon_deg"
NODE_ROLE = "role"            # "command", "team", "relay", "sensor", "base_station", "hub", ...
NODE_POWER = "power"          # emcomm.hazards.base.PowerState value
NODE_BATTERY_LEFT_S = "battery_left_s"
NODE_UP = "up"                # False when the node is off air

# edge attributes
EDGE_KIND = "kind"            # emcomm.links.profiles.LinkKind value (string)
EDGE_UP = "up"                # bool
EDGE_REASON = "reason"        # why the link is down or degraded ("" when fair)
EDGE_CAPACITY_FACTOR = "capacity_factor"  # 0..1 of the profile's rate still available

# numeric edge metrics the router compiles to arrays (current values, hazards applied)
EDGE_LATENCY_S = "latency_s"
EDGE_RATE_BPS = "rate_bps"          # current bottleneck rate (profile min(up, down) × capacity)
EDGE_MTU_BYTES = "mtu_bytes"
EDGE_MIN_INTERVAL_S = "min_interval_s"
EDGE_LOSS = "loss"
EDGE_COST_PER_MB = "cost_per_mb"    # CNY per MB

EDGE_METRICS: tuple[str, ...] = (
    EDGE_LATENCY_S, EDGE_RATE_BPS, EDGE_MTU_BYTES, EDGE_MIN_INTERVAL_S, EDGE_LOSS, EDGE_COST_PER_MB,
)
