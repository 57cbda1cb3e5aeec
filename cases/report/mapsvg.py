"""The report's map, drawn offline from the case's coordinates as one SVG document.

No tiles, no network: sites (circles at their radius), the incident point and every position
an evidence file records, on a local equirectangular projection around the data. Over a few
kilometres its distortion is far below the drawing's resolution (scale error ~ (d/R)^2).

The map is framed on the sites, not on everything: one file whose GPS says 50 km away would
otherwise shrink two markets 400 m apart into one dot. A position (or the incident point) is
drawn in place only while the map need not grow past MAX_ZOOM_OUT times the sites' own extent;
anything further is an arrow at the map's edge, pointing its way, labelled with its distance
and bearing. Labels are placed by `maplayout` so none covers another or a marker.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass
from typing import Any
from xml.sax.saxutils import escape, quoteattr

from cases.report.bidi import show_controls
from cases.report.maplayout import (
    PAD_PX,
    Box,
    LabelLine,
    LabelRequest,
    PlacedLabel,
    marker_box,
    place_labels,
)
from cases.report.present import offset_text

EARTH_RADIUS_M = 6_371_008.8
WIDTH = 800
MIN_HEIGHT, MAX_HEIGHT = 320, 800
MARGIN = 48
# A map of points closer than this would zoom to nonsense; show at least this span.
MIN_SPAN_M = 300.0
PADDING = 1.15
# How much wider than the sites' own extent the map may grow to take in other points. At 8x,
# two sites 400 m apart with 150 m radii stay ~47 px apart and ~17 px in radius on an 800 px
# map: still two circles. Further points become arrows at the edge.
MAX_ZOOM_OUT = 8.0
# Arrows for points off the map sit this far inside the border; arrows closer than
# ARROW_MERGE_PX share one arrow and one label.
EDGE_INSET_PX = 18.0
ARROW_MERGE_PX = 16.0
ARROW_LENGTH_PX = 14.0
ARROW_SLIDE_PX = 4.0
# Positions drawn closer than this are one marker with one label listing them all.
CLUSTER_PX = 3.0
LABEL_FONT_PX, SMALL_FONT_PX = 13.0, 11.0
POSITION_DOT_PX, SITE_DOT_PX, INCIDENT_PX = 5.0, 2.5, 7.0
_NICE_STEPS = (1, 2, 5)
# Site labels go above the circle first (where readers look for a place name), then below.
_SITE_DIRECTIONS = (270.0, 90.0, 0.0, 180.0, 315.0, 225.0, 45.0, 135.0)
_STYLE = (
    "<style>.lbl{font:13px sans-serif;fill:#222}.sm{font:11px sans-serif;fill:#444}"
    ".site{fill:#2a6fdb;fill-opacity:.13;stroke:#2a6fdb;stroke-width:2}"
    ".claimed{fill:#d9480f;fill-opacity:.13;stroke:#d9480f;stroke-width:2.5}"
    ".pos{fill:#111;stroke:#fff;stroke-width:1.5}.err{fill:none;stroke:#111;"
    "stroke-dasharray:4 3}.dot{fill:#333}.leader{fill:none;stroke:#777;stroke-width:0.75}"
    ".off{fill:#111}.incident{fill:none;stroke:#b00;stroke-width:3}</style>"
)


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
        f'text-anchor="{anchor}">{escape(show_controls(body))}</text>'
    )


@dataclass(frozen=True)
class _Point:
    """Something to draw at one spot: the incident or a recorded position."""

    lat: float
    lon: float
    data: dict[str, Any]
    is_incident: bool


@dataclass(frozen=True)
class _Frame:
    """The projection and window of the drawing: metres around (lat0, lon0) to pixels."""

    lat0: float
    lon0: float
    cx: float
    cy: float
    scale: float  # pixels per metre
    height: int

    def metres(self, lat: float, lon: float) -> tuple[float, float]:
        return _project(lat, lon, self.lat0, self.lon0)

    def to_px(self, lat: float, lon: float) -> tuple[float, float]:
        x, y = self.metres(lat, lon)
        return WIDTH / 2 + (x - self.cx) * self.scale, self.height / 2 - (y - self.cy) * self.scale


@dataclass(frozen=True)
class MapDrawing:
    """The SVG and what it could not draw in place (item ids, `incident`), for the captions."""

    svg: str
    off_map: tuple[str, ...]


def _extent(boxes: list[tuple[float, float, float, float]]) -> tuple[float, float, float, float]:
    return (
        min(b[0] for b in boxes),
        min(b[1] for b in boxes),
        max(b[2] for b in boxes),
        max(b[3] for b in boxes),
    )


def _span(box: tuple[float, float, float, float]) -> float:
    return max(box[2] - box[0], box[3] - box[1])


def _frame(
    sites: list[dict[str, Any]], points: list[_Point]
) -> tuple[_Frame, list[_Point], list[_Point]]:
    """The window of the map and which points fall inside it (the rest go to the edge)."""
    if sites:
        lat0 = sum(float(s["lat"]) for s in sites) / len(sites)
        lon0 = sum(float(s["lon"]) for s in sites) / len(sites)
    else:
        incident = next((p for p in points if p.is_incident), None)
        # Without sites the map centres on the incident, else on the median position (a mean
        # would be dragged off by the very outlier it has to leave out).
        lat0 = incident.lat if incident else statistics.median(p.lat for p in points)
        lon0 = incident.lon if incident else statistics.median(p.lon for p in points)
    core: list[tuple[float, float, float, float]] = [(0.0, 0.0, 0.0, 0.0)]
    if sites:
        core = []
        for s in sites:
            x, y = _project(float(s["lat"]), float(s["lon"]), lat0, lon0)
            r = float(s["radius_m"])
            core.append((x - r, y - r, x + r, y + r))
    extent = _extent(core)
    limit = MAX_ZOOM_OUT * max(_span(extent), MIN_SPAN_M)
    centre = ((extent[0] + extent[2]) / 2, (extent[1] + extent[3]) / 2)

    def distance(p: _Point) -> float:
        x, y = _project(p.lat, p.lon, lat0, lon0)
        return math.hypot(x - centre[0], y - centre[1])

    inside: list[_Point] = []
    outside: list[_Point] = []
    # Nearest first, so a far point never pushes out a nearer one; the sort is stable.
    for p in sorted(points, key=distance):
        x, y = _project(p.lat, p.lon, lat0, lon0)
        grown = _extent([extent, (x, y, x, y)])
        if _span(grown) <= limit:
            extent = grown
            inside.append(p)
        else:
            outside.append(p)
    min_x, min_y, max_x, max_y = extent
    span_x = max(max_x - min_x, MIN_SPAN_M) * PADDING
    span_y = max(max_y - min_y, MIN_SPAN_M) * PADDING
    inner_w = WIDTH - 2 * MARGIN
    height = int(min(max(inner_w * span_y / span_x + 2 * MARGIN, MIN_HEIGHT), MAX_HEIGHT))
    scale = min(inner_w / span_x, (height - 2 * MARGIN) / span_y)
    frame = _Frame(lat0, lon0, (min_x + max_x) / 2, (min_y + max_y) / 2, scale, height)
    return frame, inside, outside


def _edge_point(
    start: tuple[float, float], target: tuple[float, float], height: int
) -> tuple[float, float, float, float]:
    """Where the ray from `start` towards `target` (pixels) meets the inset border, and the
    ray's unit direction."""
    dx, dy = target[0] - start[0], target[1] - start[1]
    norm = math.hypot(dx, dy) or 1.0
    ux, uy = dx / norm, dy / norm
    lo_x, hi_x = EDGE_INSET_PX, WIDTH - EDGE_INSET_PX
    lo_y, hi_y = EDGE_INSET_PX, height - EDGE_INSET_PX
    ts = []
    if ux > 0:
        ts.append((hi_x - start[0]) / ux)
    if ux < 0:
        ts.append((lo_x - start[0]) / ux)
    if uy > 0:
        ts.append((hi_y - start[1]) / uy)
    if uy < 0:
        ts.append((lo_y - start[1]) / uy)
    t = max(0.0, min(ts)) if ts else 0.0
    return start[0] + t * ux, start[1] + t * uy, ux, uy


def _point_name(p: _Point) -> str:
    if p.is_incident:
        return f"incident: {p.data.get('place') or ''}".rstrip(": ")
    # A position whose EXIF may be another photo's (report data `in_doubt`) is marked "?".
    doubt = " (?)" if p.data.get("in_doubt") else ""
    return f"{p.data['item']} {p.data['filename']}{doubt}"


def _offset_from_centre(frame: _Frame, p: _Point) -> dict[str, Any]:
    """Distance and bearing from the map's centre, for points the report data measured from
    nothing (a case with neither sites nor an incident point)."""
    x, y = frame.metres(p.lat, p.lon)
    dx, dy = x - frame.cx, y - frame.cy
    return {
        "from": "the map centre",
        "distance_m": math.hypot(dx, dy),
        "bearing_deg": round(math.degrees(math.atan2(dx, dy))) % 360,
    }


@dataclass(frozen=True)
class _Arrow:
    x: float
    y: float
    ux: float
    uy: float
    points: tuple[_Point, ...]

    def path(self) -> str:
        bx, by = self.x - ARROW_LENGTH_PX * self.ux, self.y - ARROW_LENGTH_PX * self.uy
        nx, ny = -self.uy * 6, self.ux * 6
        return (
            f"M{self.x:.1f} {self.y:.1f}L{bx + nx:.1f} {by + ny:.1f}L{bx - nx:.1f} {by - ny:.1f}Z"
        )

    def box(self) -> Box:
        bx, by = self.x - ARROW_LENGTH_PX * self.ux, self.y - ARROW_LENGTH_PX * self.uy
        return Box(
            min(self.x, bx) - 6, min(self.y, by) - 6, max(self.x, bx) + 6, max(self.y, by) + 6
        )


def _slid(arrow: _Arrow, reserved: list[Box], height: int) -> _Arrow:
    """`arrow` moved along the border, as little as possible, off the scale bar, the north
    arrow and the arrows already drawn (its direction stays true)."""
    lo_x, hi_x = EDGE_INSET_PX, WIDTH - EDGE_INSET_PX
    lo_y, hi_y = EDGE_INSET_PX, height - EDGE_INSET_PX
    on_top_or_bottom = math.isclose(arrow.y, lo_y) or math.isclose(arrow.y, hi_y)
    for step in range(0, 2 * int(WIDTH / ARROW_SLIDE_PX)):
        shift = ARROW_SLIDE_PX * ((step + 1) // 2) * (1 if step % 2 else -1)
        if on_top_or_bottom:
            x, y = min(max(arrow.x + shift, lo_x), hi_x), arrow.y
        else:
            x, y = arrow.x, min(max(arrow.y + shift, lo_y), hi_y)
        moved = _Arrow(x, y, arrow.ux, arrow.uy, arrow.points)
        if not any(moved.box().grown(PAD_PX).intersects(r) for r in reserved):
            return moved
    return arrow


def _arrows(
    frame: _Frame, sites: list[dict[str, Any]], outside: list[_Point], reserved: list[Box]
) -> list[_Arrow]:
    """One arrow per direction of the points off the map, from the claimed site (else the map
    centre) towards each, on the map's inset border, clear of the `reserved` boxes."""
    claimed = next((s for s in sites if s.get("claimed")), None)
    start = (
        frame.to_px(float(claimed["lat"]), float(claimed["lon"]))
        if claimed
        else (WIDTH / 2, frame.height / 2)
    )
    grouped: list[_Arrow] = []
    for p in outside:
        x, y, ux, uy = _edge_point(start, frame.to_px(p.lat, p.lon), frame.height)
        for i, a in enumerate(grouped):
            if math.hypot(a.x - x, a.y - y) <= ARROW_MERGE_PX:
                grouped[i] = _Arrow(a.x, a.y, a.ux, a.uy, (*a.points, p))
                break
        else:
            grouped.append(_Arrow(x, y, ux, uy, (p,)))
    arrows: list[_Arrow] = []
    for a in grouped:
        arrows.append(_slid(a, reserved + [b.box() for b in arrows], frame.height))
    return arrows


def _inward_directions(ux: float, uy: float) -> tuple[float, ...]:
    """Label directions for an edge arrow: into the map first, then sideways."""
    inward = math.degrees(math.atan2(-uy, -ux)) % 360
    return tuple((inward + d) % 360 for d in (0.0, 45.0, -45.0, 90.0, -90.0))


def _label_svg(placed: PlacedLabel) -> list[str]:
    box, request = placed.box, placed.request
    if box.x1 < request.x - 1:
        anchor, x = "end", box.x1
    elif box.x0 > request.x + 1:
        anchor, x = "start", box.x0
    else:
        anchor, x = "middle", (box.x0 + box.x1) / 2
    parts = []
    if placed.leader is not None:
        (ax, ay), (bx, by) = placed.leader
        parts.append(f'<path d="M{ax:.1f} {ay:.1f}L{bx:.1f} {by:.1f}" class="leader"/>')
    top = box.y0
    for line in request.lines:
        # Baseline at 0.9 em below the line's top leaves room for ascenders and descenders.
        parts.append(_text(x, top + line.font_px * 0.9, line.text, line.css_class, anchor))
        top += line.font_px + 3.0
    return parts


def _drawable(p: dict[str, Any]) -> bool:
    lat, lon = float(p["lat"]), float(p["lon"])
    return math.isfinite(lat) and math.isfinite(lon) and abs(lat) <= 90 and abs(lon) <= 180


def draw_map(map_data: dict[str, Any]) -> MapDrawing | None:
    """The map of `map_data` (report `map` section), or None when there are no coordinates.

    Every label comes from case data and is XML-escaped here.
    """
    sites = list(map_data.get("sites") or [])
    # A file's own GPS can be garbage (NaN, latitude 400): such a position is left to the
    # positions table, which prints it as recorded.
    points = [
        _Point(float(p["lat"]), float(p["lon"]), p, False)
        for p in map_data.get("positions") or []
        if _drawable(p)
    ]
    incident = map_data.get("incident")
    if incident:
        points.insert(0, _Point(float(incident["lat"]), float(incident["lon"]), incident, True))
    if not sites and not points:
        return None
    frame, inside, outside = _frame(sites, points)
    height = frame.height
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height}" '
        f'width="{WIDTH}" height="{height}" role="img" class="case-map">',
        "<title>Map of the sites and of the positions recorded in evidence files</title>",
        _STYLE,
        f'<rect x="0" y="0" width="{WIDTH}" height="{height}" fill="#f7f5ef" stroke="#999"/>',
    ]
    # Scale bar (bottom left) about a quarter of the map's width, rounded to 1/2/5.
    bar_m = _nice_length((WIDTH - 2 * MARGIN) / frame.scale / 4)
    bar_px = bar_m * frame.scale
    bx, by = MARGIN / 2, height - MARGIN / 2
    scale_parts = [
        f'<path d="M{bx:.1f} {by - 6:.1f}V{by:.1f}H{bx + bar_px:.1f}V{by - 6:.1f}" '
        'fill="none" stroke="#000" stroke-width="2" class="scalebar"/>',
        _text(bx + bar_px / 2, by - 9, _length_text(bar_m), "sm", "middle"),
    ]
    reserved = [Box(bx - 2, by - 22, bx + bar_px + 2, by + 2)]
    # North arrow (top right): the projection keeps north straight up.
    nx, ny = WIDTH - MARGIN / 2 - 4, MARGIN / 2 + 4
    north_parts = [
        f'<path d="M{nx:.1f} {ny - 16:.1f}L{nx + 8:.1f} {ny + 10:.1f}L{nx:.1f} {ny + 4:.1f}'
        f'L{nx - 8:.1f} {ny + 10:.1f}Z" fill="#000"/>',
        _text(nx, ny + 24, "N", "lbl", "middle"),
    ]
    reserved.append(Box(nx - 10, ny - 18, nx + 10, ny + 28))
    obstacles: list[Box] = list(reserved)

    requests: list[LabelRequest] = []
    # Claimed sites label first: they get the best spots.
    for s in sorted(sites, key=lambda s: not s.get("claimed")):
        x, y = frame.to_px(float(s["lat"]), float(s["lon"]))
        r = max(float(s["radius_m"]) * frame.scale, 2.0)
        cls = "claimed" if s.get("claimed") else "site"
        role = " (claimed site)" if s.get("claimed") else ""
        parts.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{r:.1f}" class="{cls}"/>')
        obstacles.append(marker_box(x, y, SITE_DOT_PX))
        lines: tuple[LabelLine, ...] = (
            LabelLine(f"{s['name']}{role}", LABEL_FONT_PX, "lbl"),
            LabelLine(f"radius {s['radius_m']:g} m", SMALL_FONT_PX, "sm"),
        )
        requests.append(LabelRequest(x, y, r, lines, _SITE_DIRECTIONS, SITE_DOT_PX))
    site_dots = [frame.to_px(float(s["lat"]), float(s["lon"])) for s in sites]

    arrows = _arrows(frame, sites, outside, reserved)
    for a in arrows:
        parts.append(f'<path d="{a.path()}" class="off"/>')
        obstacles.append(a.box())
        lines = ()
        for p in a.points:
            offset = p.data.get("offset") or _offset_from_centre(frame, p)
            lines += (
                LabelLine(f"{_point_name(p)} (off the map)", SMALL_FONT_PX, "sm"),
                LabelLine(offset_text(offset), SMALL_FONT_PX, "sm"),
            )
        # Anchored mid-arrow: the arrow's half-length plus half-width is the clearance.
        mx, my = a.x - a.ux * ARROW_LENGTH_PX / 2, a.y - a.uy * ARROW_LENGTH_PX / 2
        requests.append(LabelRequest(mx, my, 10.0, lines, _inward_directions(a.ux, a.uy)))

    clusters: list[tuple[float, float, list[_Point]]] = []
    for p in inside:
        x, y = frame.to_px(p.lat, p.lon)
        if p.is_incident:
            k = INCIDENT_PX
            parts.append(
                f'<path d="M{x - k:.1f} {y - k:.1f}L{x + k:.1f} {y + k:.1f}M{x - k:.1f} '
                f'{y + k:.1f}L{x + k:.1f} {y - k:.1f}" class="incident"/>'
            )
            obstacles.append(marker_box(x, y, k + 1.5))
            line = LabelLine(_point_name(p), SMALL_FONT_PX, "sm")
            requests.append(LabelRequest(x, y, k + 1.5, (line,)))
            continue
        err = p.data.get("horizontal_error_m")
        if isinstance(err, int | float) and not isinstance(err, bool) and err > 0:
            parts.append(
                f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{err * frame.scale:.1f}" class="err"/>'
            )
        for cx, cy, members in clusters:
            if math.hypot(cx - x, cy - y) <= CLUSTER_PX:
                members.append(p)
                break
        else:
            clusters.append((x, y, [p]))
    for x, y, members in clusters:
        obstacles.append(marker_box(x, y, POSITION_DOT_PX + 1))
        lines = tuple(LabelLine(_point_name(p), SMALL_FONT_PX, "sm") for p in members)
        requests.append(LabelRequest(x, y, POSITION_DOT_PX + 1, lines))

    placed = place_labels(requests, obstacles, Box(4.0, 4.0, WIDTH - 4.0, height - 4.0))
    # Markers go over the circles and leaders, labels over everything.
    for x, y in site_dots:
        parts.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{SITE_DOT_PX}" class="dot"/>')
    label_parts = [part for p in placed for part in _label_svg(p)]
    parts.extend(part for part in label_parts if part.startswith("<path"))
    for x, y, _ in clusters:
        parts.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{POSITION_DOT_PX:g}" class="pos"/>')
    parts.extend(part for part in label_parts if not part.startswith("<path"))
    parts.extend(scale_parts + north_parts)
    parts.append("</svg>")
    off_map = tuple("incident" if p.is_incident else str(p.data["item"]) for p in outside)
    return MapDrawing(svg="\n".join(parts), off_map=off_map)


def render_map_svg(map_data: dict[str, Any]) -> str | None:
    """SVG markup of the map, or None when the case has no coordinates at all."""
    drawing = draw_map(map_data)
    return drawing.svg if drawing is not None else None
