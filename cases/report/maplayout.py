"""Where the map's labels go: a small deterministic collision-avoiding layout.

Each label is tried at candidate spots around its marker, nearest first (right, left, above,
below, then the corners); the first spot that stays on the map and touches no placed label and
no marker wins. When the ring next to the marker is full, spots further out are tried on rings
of growing radius and the label is joined to its marker by a thin leader line. Same input, same
drawing: no randomness, no iteration to convergence.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

# Text widths are estimated, not measured (no font files offline). 0.64 em per character is the
# advance of DejaVu Sans digits, the widest common sans-serif default; Arial and Helvetica are
# narrower (~0.56 em), so a box is never smaller than the text drawn in it.
CHAR_EM = 0.64
LINE_GAP_PX = 3.0
# Space kept between a label and anything else, and between a marker and its own label.
PAD_PX = 2.0
GAP_PX = 4.0
# Rings for labels that do not fit next to their marker: every 14 px, 16 directions each.
RING_STEP_PX = 14.0
RING_DIRECTIONS = 16
# A leader longer than this reads as pointing at the wrong marker; it also bounds the search
# (120 positions lay out in ~1.5 s instead of ~2.4 s with rings across the whole map).
MAX_LEADER_PX = 320.0
# Next to the marker: right, left, above, below, then the four corners (SVG y grows downward).
_NEAR_DIRECTIONS = (0.0, 180.0, 270.0, 90.0, 315.0, 225.0, 45.0, 135.0)


@dataclass(frozen=True)
class Box:
    """An axis-aligned rectangle in drawing pixels (y down)."""

    x0: float
    y0: float
    x1: float
    y1: float

    def grown(self, by: float) -> Box:
        return Box(self.x0 - by, self.y0 - by, self.x1 + by, self.y1 + by)

    def intersects(self, other: Box) -> bool:
        return (
            self.x0 < other.x1 and other.x0 < self.x1 and self.y0 < other.y1 and other.y0 < self.y1
        )

    def within(self, other: Box) -> bool:
        return (
            other.x0 <= self.x0
            and self.x1 <= other.x1
            and other.y0 <= self.y0
            and self.y1 <= other.y1
        )

    def contains(self, point: tuple[float, float]) -> bool:
        return self.x0 <= point[0] <= self.x1 and self.y0 <= point[1] <= self.y1

    def crossed_by(self, a: tuple[float, float], b: tuple[float, float]) -> bool:
        """Whether the segment a-b passes through this box (Liang-Barsky clipping)."""
        t0, t1 = 0.0, 1.0
        dx, dy = b[0] - a[0], b[1] - a[1]
        for p, q in (
            (-dx, a[0] - self.x0),
            (dx, self.x1 - a[0]),
            (-dy, a[1] - self.y0),
            (dy, self.y1 - a[1]),
        ):
            if p == 0:
                if q < 0:
                    return False
                continue
            t = q / p
            if p < 0:
                t0 = max(t0, t)
            else:
                t1 = min(t1, t)
            if t0 > t1:
                return False
        return True


def marker_box(x: float, y: float, radius: float) -> Box:
    return Box(x - radius, y - radius, x + radius, y + radius)


@dataclass(frozen=True)
class LabelLine:
    text: str
    font_px: float
    css_class: str


@dataclass(frozen=True)
class LabelRequest:
    """A label to place next to the marker at (x, y), which is `clearance` pixels in radius
    (a site's drawn circle when the label should sit outside it, else the dot)."""

    x: float
    y: float
    clearance: float
    lines: tuple[LabelLine, ...]
    # Directions (degrees, 0 = right, 90 = down) tried first next to the marker.
    near_directions: tuple[float, ...] = _NEAR_DIRECTIONS
    # Further spots to try next to a second, smaller marker radius (a site's centre dot) before
    # going out to the rings.
    inner_clearance: float | None = None


@dataclass(frozen=True)
class PlacedLabel:
    request: LabelRequest
    box: Box
    # The leader line's ends, from the marker's edge to the label, when it sits away from it.
    leader: tuple[tuple[float, float], tuple[float, float]] | None
    # False only when no free spot existed on the whole map (then it is the least crowded one).
    free: bool


def text_width(text: str, font_px: float) -> float:
    return len(text) * font_px * CHAR_EM


def label_size(lines: tuple[LabelLine, ...]) -> tuple[float, float]:
    width = max(text_width(line.text, line.font_px) for line in lines)
    height = sum(line.font_px + LINE_GAP_PX for line in lines)
    return width, height


def _box_at(
    x: float, y: float, distance: float, degrees: float, size: tuple[float, float]
) -> tuple[Box, tuple[float, float]]:
    """The label box whose side (or corner) facing (x, y) touches the point `distance` away in
    direction `degrees`; also that attachment point."""
    w, h = size
    ux, uy = math.cos(math.radians(degrees)), math.sin(math.radians(degrees))
    px, py = x + distance * ux, y + distance * uy
    # sqrt(2) makes the diagonals put a corner on the point and the axes a side's middle.
    cx = max(-1.0, min(1.0, ux * math.sqrt(2)))
    cy = max(-1.0, min(1.0, uy * math.sqrt(2)))
    x0 = px - w / 2 + cx * w / 2
    y0 = py - h / 2 + cy * h / 2
    return Box(x0, y0, x0 + w, y0 + h), (px, py)


def _candidates(
    request: LabelRequest, size: tuple[float, float], reach: float
) -> list[tuple[Box, tuple[float, float] | None, tuple[float, float]]]:
    """(box, attachment point or None when adjacent, marker edge point) in order of preference."""
    out: list[tuple[Box, tuple[float, float] | None, tuple[float, float]]] = []
    clearances = [request.clearance]
    if request.inner_clearance is not None and request.inner_clearance < request.clearance:
        clearances.append(request.inner_clearance)
    for clearance in clearances:
        for degrees in request.near_directions:
            box, _ = _box_at(request.x, request.y, clearance + GAP_PX, degrees, size)
            out.append((box, None, (request.x, request.y)))
    base = min(clearances)
    steps = int(reach / RING_STEP_PX)
    for ring in range(1, steps + 1):
        distance = base + GAP_PX + ring * RING_STEP_PX
        for k in range(RING_DIRECTIONS):
            degrees = k * 360.0 / RING_DIRECTIONS
            box, attach = _box_at(request.x, request.y, distance, degrees, size)
            u = (math.cos(math.radians(degrees)), math.sin(math.radians(degrees)))
            edge = (request.x + base * u[0], request.y + base * u[1])
            out.append((box, attach, edge))
    return out


def place_labels(
    requests: list[LabelRequest], obstacles: list[Box], bounds: Box
) -> list[PlacedLabel]:
    """Place `requests` in order (earlier ones get the better spots) inside `bounds`, clear of
    each other and of `obstacles` (markers, scale bar, north arrow).

    A spot's cost is (overlaps, crossings): a label on another label or a marker is ruled out
    whenever any spot avoids it; a leader line crossing a label or a marker, or a label lying
    on an earlier leader, only when a spot without crossings exists. Ties go to the earlier
    candidate, i.e. the one nearer its marker.
    """
    placed: list[PlacedLabel] = []
    taken: list[Box] = []
    leaders: list[tuple[tuple[float, float], tuple[float, float]]] = []
    reach = min(MAX_LEADER_PX, math.hypot(bounds.x1 - bounds.x0, bounds.y1 - bounds.y0))
    for request in requests:
        size = label_size(request.lines)
        best: tuple[tuple[int, int], Box, tuple[float, float] | None, tuple[float, float]]
        # Larger than the map itself: pinned to the top left corner.
        w, h = size
        corner = Box(bounds.x0, bounds.y0, bounds.x0 + w, bounds.y0 + h)
        best = ((len(taken) + len(obstacles) + 1, 0), corner, None, (0.0, 0.0))
        for box, attach, edge in _candidates(request, size, reach):
            if not box.within(bounds):
                continue
            padded = box.grown(PAD_PX)
            overlaps = sum(1 for t in taken if padded.intersects(t))
            overlaps += sum(1 for o in obstacles if padded.intersects(o))
            if overlaps > best[0][0]:
                continue
            crossings = sum(1 for a, b in leaders if padded.crossed_by(a, b))
            if attach is not None:
                crossings += sum(1 for t in taken if t.crossed_by(edge, attach))
                # Its own marker, where the leader starts, excepted.
                crossings += sum(
                    1 for o in obstacles if o.crossed_by(edge, attach) and not o.contains(edge)
                )
            if (overlaps, crossings) < best[0]:
                best = ((overlaps, crossings), box, attach, edge)
                if best[0] == (0, 0):
                    break
        (overlaps, _), box, attach, edge = best
        leader = (edge, attach) if attach is not None else None
        placed.append(PlacedLabel(request=request, box=box, leader=leader, free=overlaps == 0))
        taken.append(box)
        if leader is not None:
            leaders.append(leader)
    return placed
