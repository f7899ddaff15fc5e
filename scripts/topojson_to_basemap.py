"""One-off asset conversion: world-atlas TopoJSON (Natural Earth) → simplified GeoJSON basemap.

Owns only the conversion run by hand when the basemap is refreshed; the package never
imports it. Arcs are simplified once (Douglas-Peucker, end points kept) *before* polygons
are assembled, so a border shared by two countries stays identical on both sides.

Source data: npm package ``world-atlas`` 2.0.2 (Natural Earth 4.1.0 Admin 0 countries,
public domain; https://www.naturalearthdata.com/about/terms-of-use/).

Usage::

    npm pack world-atlas@2.0.2 && tar xzf world-atlas-2.0.2.tgz
    python scripts/topojson_to_basemap.py package/countries-50m.json \\
        emcomm/ui/static/basemap/countries.geojson --tolerance-deg 0.02
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

Point = tuple[float, float]


def decode_arcs(topology: dict) -> list[list[Point]]:
    """Absolute lon/lat arcs from a (possibly quantized, delta-encoded) TopoJSON topology."""
    transform = topology.get("transform")
    arcs: list[list[Point]] = []
    for arc in topology["arcs"]:
        if transform:
            (sx, sy), (tx, ty) = transform["scale"], transform["translate"]
            x = y = 0
            pts = []
            for dx, dy in arc:
                x += dx
                y += dy
                pts.append((x * sx + tx, y * sy + ty))
        else:
            pts = [(p[0], p[1]) for p in arc]
        arcs.append(pts)
    return arcs


def simplify(points: list[Point], tolerance: float) -> list[Point]:
    """Douglas-Peucker simplification keeping both end points (iterative, no recursion limit)."""
    if len(points) < 3:
        return points
    keep = [False] * len(points)
    keep[0] = keep[-1] = True
    stack = [(0, len(points) - 1)]
    while stack:
        i, j = stack.pop()
        (x1, y1), (x2, y2) = points[i], points[j]
        dx, dy = x2 - x1, y2 - y1
        norm = math.hypot(dx, dy)
        best, best_k = -1.0, -1
        for k in range(i + 1, j):
            px, py = points[k]
            d = abs(dy * (px - x1) - dx * (py - y1)) / norm if norm else math.hypot(px - x1, py - y1)
            if d > best:
                best, best_k = d, k
        if best > tolerance:
            keep[best_k] = True
            stack += [(i, best_k), (best_k, j)]
    return [p for p, k in zip(points, keep) if k]


def _ring(indices: list[int], arcs: list[list[Point]], digits: int) -> list[list[float]]:
    out: list[list[float]] = []
    for idx in indices:
        pts = arcs[idx] if idx >= 0 else arcs[~idx][::-1]
        for k, (x, y) in enumerate(pts):
            if out and k == 0:
                continue  # arcs share their joining point
            out.append([round(x, digits), round(y, digits)])
    return out


def _polygon(rings: list[list[int]], arcs: list[list[Point]], digits: int) -> list | None:
    out = []
    for r in rings:
        ring = _ring(r, arcs, digits)
        if len(ring) >= 4:
            out.append(ring)
        elif not out:
            return None  # outer ring collapsed: drop the polygon
    return out or None


def convert(topology: dict, object_name: str, tolerance_deg: float, digits: int) -> dict:
    """TopoJSON object → GeoJSON FeatureCollection with ``name`` properties."""
    arcs = [simplify(a, tolerance_deg) for a in decode_arcs(topology)]
    features = []
    for geom in topology["objects"][object_name]["geometries"]:
        name = (geom.get("properties") or {}).get("name", "")
        if geom["type"] == "Polygon":
            polys = [_polygon(geom["arcs"], arcs, digits)]
        elif geom["type"] == "MultiPolygon":
            polys = [_polygon(p, arcs, digits) for p in geom["arcs"]]
        else:
            continue
        polys = [p for p in polys if p]
        if not polys:
            continue
        features.append({
            "type": "Feature",
            "properties": {"name": name},
            "geometry": {"type": "MultiPolygon", "coordinates": polys},
        })
    return {
        "type": "FeatureCollection",
        "attribution": "Made with Natural Earth (public domain), via npm world-atlas 2.0.2",
        "features": features,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("topojson", type=Path)
    ap.add_argument("output", type=Path)
    ap.add_argument("--object", default="countries")
    ap.add_argument("--tolerance-deg", type=float, default=0.02)
    ap.add_argument("--digits", type=int, default=3)
    args = ap.parse_args()
    fc = convert(json.loads(args.topojson.read_text()), args.object, args.tolerance_deg, args.digits)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(fc, separators=(",", ":")))
    print(f"{len(fc['features'])} features, {args.output.stat().st_size} bytes → {args.output}")


if __name__ == "__main__":
    main()
