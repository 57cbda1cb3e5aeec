"""The report's map, drawn offline from the case's coordinates as one SVG document.

No tiles, no network: sites (circles at their radius), the incident point and every position
an evidence file records, on a local equirectangular projection around the data. Over a few
kilometres its distortion is far below the drawing's resolution (scale error ~ (d/R)^2).
"""

from __future__ import annotations

import math
from typing import Any
from xml.sax.saxutils import escape, quoteattr

EARTH_RADIUS_M = 6_371_008.8
WIDTH = 800
MIN_HEIGHT, MAX_HEIGHT = 320, 800
MARGIN = 48
# A map of points closer than this would zoom to nonsense; show at least this span.
MIN_SPAN_M = 300.0
PADDING = 1.15
_NICE_STEPS = (1, 2, 5)


def _project(lat: float, lon: float, lat0: float, lon0: float) -> tuple[float, float]:
    """Metres east and north of (lat0, lon0)."""
    x = math.radians(lon - lon0) * EARTH_RADIUS_M * math.cos(math.radians(lat0))
    y = math.radians(lat - lat0) * EARTH_RADIUS_M
    return x, y


def _nice_length(target_m: float) -> float:
    """The largest 1/2/5 x 10^n metres not above `target_m`."""
    exponent = math.floor(math.log10(max(target_m, 1e-3)))
    best = 10.0**exponent
    for step in _NICE_STEPS:
        candidate = step * 10.0**exponent
        if candidate <= target_m:
            best = candidate
    return best


def _length_text(metres: float) -> str:
    return f"{metres / 1000:g} km" if metres >= 1000 else f"{metres:g} m"


def _text(x: float, y: float, body: str, cls: str, anchor: str = "start") -> str:
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" class={quoteattr(cls)} '
        f'text-anchor="{anchor}">{escape(body)}</text>'
    )


def render_map_svg(map_data: dict[str, Any]) -> str | None:
    """SVG markup of the map, or None when the case has no coordinates at all.

    Every label comes from case data and is XML-escaped here.
    """
    sites = list(map_data.get("sites") or [])
    positions = list(map_data.get("positions") or [])
    incident = map_data.get("incident")
    points = [(s["lat"], s["lon"]) for s in sites] + [(p["lat"], p["lon"]) for p in positions]
    if incident:
        points.append((incident["lat"], incident["lon"]))
    if not points:
        return None
    lat0 = sum(p[0] for p in points) / len(points)
    lon0 = sum(p[1] for p in points) / len(points)

    # Extent in metres, including every site's circle.
    boxes = []
    for s in sites:
        x, y = _project(s["lat"], s["lon"], lat0, lon0)
        r = float(s["radius_m"])
        boxes.append((x - r, y - r, x + r, y + r))
    for lat, lon in points:
        x, y = _project(lat, lon, lat0, lon0)
        boxes.append((x, y, x, y))
    min_x = min(b[0] for b in boxes)
    min_y = min(b[1] for b in boxes)
    max_x = max(b[2] for b in boxes)
    max_y = max(b[3] for b in boxes)
    # A little air around the outermost circle, so labels above it stay on the map.
    span_x = max(max_x - min_x, MIN_SPAN_M) * PADDING
    span_y = max(max_y - min_y, MIN_SPAN_M) * PADDING
    cx, cy = (min_x + max_x) / 2, (min_y + max_y) / 2
    inner_w = WIDTH - 2 * MARGIN
    height = int(min(max(inner_w * span_y / span_x + 2 * MARGIN, MIN_HEIGHT), MAX_HEIGHT))
    inner_h = height - 2 * MARGIN
    scale = min(inner_w / span_x, inner_h / span_y)  # pixels per metre

    def to_px(lat: float, lon: float) -> tuple[float, float]:
        x, y = _project(lat, lon, lat0, lon0)
        return WIDTH / 2 + (x - cx) * scale, height / 2 - (y - cy) * scale

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height}" '
        f'width="{WIDTH}" height="{height}" role="img" class="case-map">',
        "<title>Map of the sites and of the positions recorded in evidence files</title>",
        "<style>.lbl{font:13px sans-serif;fill:#222}.sm{font:11px sans-serif;fill:#444}"
        ".site{fill:#2a6fdb22;stroke:#2a6fdb;stroke-width:2}"
        ".claimed{fill:#d9480f22;stroke:#d9480f;stroke-width:2.5}"
        ".pos{fill:#111;stroke:#fff;stroke-width:1.5}.err{fill:none;stroke:#111;"
        "stroke-dasharray:4 3}</style>",
        f'<rect x="0" y="0" width="{WIDTH}" height="{height}" fill="#f7f5ef" stroke="#999"/>',
    ]
    for s in sites:
        x, y = to_px(s["lat"], s["lon"])
        r = max(float(s["radius_m"]) * scale, 2.0)
        cls = "claimed" if s.get("claimed") else "site"
        role = " (claimed site)" if s.get("claimed") else ""
        parts.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{r:.1f}" class="{cls}"/>')
        parts.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="2.5" fill="#333"/>')
        parts.append(_text(x, y - r - 6, f"{s['name']}{role}", "lbl", "middle"))
        parts.append(_text(x, y - r + 8, f"radius {s['radius_m']:g} m", "sm", "middle"))
    if incident:
        x, y = to_px(incident["lat"], incident["lon"])
        parts.append(
            f'<path d="M{x - 7:.1f} {y - 7:.1f}L{x + 7:.1f} {y + 7:.1f}M{x - 7:.1f} {y + 7:.1f}'
            f'L{x + 7:.1f} {y - 7:.1f}" stroke="#b00" stroke-width="3"/>'
        )
        parts.append(_text(x + 10, y + 4, f"incident: {incident.get('place') or ''}", "sm"))
    # Positions that coincide get their labels stacked, not overprinted.
    stacked: dict[tuple[int, int], int] = {}
    for p in positions:
        x, y = to_px(p["lat"], p["lon"])
        err = p.get("horizontal_error_m")
        if isinstance(err, int | float) and err > 0:
            parts.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{err * scale:.1f}" class="err"/>')
        parts.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="5" class="pos"/>')
        key = (round(x / 4), round(y / 4))
        row = stacked.get(key, 0)
        stacked[key] = row + 1
        parts.append(_text(x + 9, y + 4 + 14 * row, f"{p['item']} {p['filename']}", "sm"))

    # Scale bar (bottom left) about a quarter of the width, rounded to 1/2/5.
    bar_m = _nice_length(span_x / 4)
    bar_px = bar_m * scale
    bx, by = MARGIN / 2, height - MARGIN / 2
    parts.append(
        f'<path d="M{bx:.1f} {by - 6:.1f}V{by:.1f}H{bx + bar_px:.1f}V{by - 6:.1f}" '
        'fill="none" stroke="#000" stroke-width="2"/>'
    )
    parts.append(_text(bx + bar_px / 2, by - 9, _length_text(bar_m), "sm", "middle"))
    # North arrow (top right): the projection keeps north straight up.
    nx, ny = WIDTH - MARGIN / 2 - 4, MARGIN / 2 + 4
    parts.append(
        f'<path d="M{nx:.1f} {ny - 16:.1f}L{nx + 8:.1f} {ny + 10:.1f}L{nx:.1f} {ny + 4:.1f}'
        f'L{nx - 8:.1f} {ny + 10:.1f}Z" fill="#000"/>'
    )
    parts.append(_text(nx, ny + 24, "N", "lbl", "middle"))
    parts.append("</svg>")
    return "\n".join(parts)
