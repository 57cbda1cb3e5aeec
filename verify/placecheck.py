"""Place check: does the GPS position in an item's metadata lie at the site it is claimed to show?

Geodesic distance (WGS84) from the position to the centre of every site of the case. Inside the
claimed site's radius is consistent; a position whose error circle cannot reach the claimed site
is a mismatch that names the nearest site; no position, or an error circle that straddles the
claimed site's edge, is inconclusive.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from verify.errors import InvalidValueError
from verify.geo import GeoPoint, distance_m
from verify.verdict import Verdict


@dataclass(frozen=True)
class SiteArea:
    """A site of the case as a circle: centre and radius in metres; `claimed` marks the site the
    item is said to show."""

    name: str
    center: GeoPoint
    radius_m: float
    claimed: bool = False

    def __post_init__(self) -> None:
        if not self.name.strip():
            raise InvalidValueError("a site needs a name")
        if not math.isfinite(self.radius_m) or self.radius_m <= 0:
            raise InvalidValueError(f"site {self.name!r} radius {self.radius_m!r} must be > 0 m")


@dataclass(frozen=True)
class SiteDistance:
    """How far the position is from one site: distance to its centre, its radius, and whether
    the position (`inside`) or its error circle (`reachable`) lies within the radius."""

    site: str
    distance_m: float
    radius_m: float
    inside: bool
    reachable: bool

    def to_dict(self) -> dict[str, Any]:
        return {
            "site": self.site,
            "distance_m": round(self.distance_m, 1),
            "radius_m": self.radius_m,
            "inside": self.inside,
            "reachable": self.reachable,
        }


@dataclass(frozen=True)
class PlaceResult:
    """The place verdict with every value it was decided on."""

    verdict: Verdict
    detail: str
    position: GeoPoint | None
    horizontal_error_m: float | None
    claimed_site: str | None
    distances: tuple[SiteDistance, ...]
    nearest_site: str | None
    nearest_distance_m: float | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "verdict": self.verdict.value,
            "detail": self.detail,
            "position": self.position.to_dict() if self.position else None,
            "horizontal_error_m": self.horizontal_error_m,
            "claimed_site": self.claimed_site,
            "distances": [d.to_dict() for d in self.distances],
            "nearest_site": self.nearest_site,
            "nearest_distance_m": (
                round(self.nearest_distance_m, 1) if self.nearest_distance_m is not None else None
            ),
        }


def check_place(
    position: GeoPoint | None,
    sites: Sequence[SiteArea],
    claimed_site: str | None,
    *,
    horizontal_error_m: float | None = None,
) -> PlaceResult:
    """Compare a position (with its GPS error radius, if the metadata gives one) with the sites.

    `claimed_site` names the site the item is said to show; when None, the site flagged
    `claimed` is used. A position whose error circle overlaps the claimed site is never a
    mismatch: it is consistent when the position itself is inside, else inconclusive.
    """
    claimed = _resolve_claimed(sites, claimed_site)
    error = _validated_error(horizontal_error_m)

    def result(verdict: Verdict, detail: str, dists: tuple[SiteDistance, ...] = ()) -> PlaceResult:
        nearest = min(dists, key=lambda d: d.distance_m, default=None)
        return PlaceResult(
            verdict=verdict,
            detail=detail,
            position=position,
            horizontal_error_m=horizontal_error_m,
            claimed_site=claimed.name if claimed else None,
            distances=dists,
            nearest_site=nearest.site if nearest else None,
            nearest_distance_m=nearest.distance_m if nearest else None,
        )

    if position is None:
        return result(Verdict.INCONCLUSIVE, "No position in metadata: the place cannot be checked.")
    if not sites:
        return result(
            Verdict.INCONCLUSIVE, f"Position {position}: the case has no sites to compare."
        )
    dists = tuple(_distance(position, site, error) for site in sites)
    where = f"GPS position {position}" + (f" (±{error:g} m)" if error else "")
    nearest = min(dists, key=lambda d: d.distance_m)
    if claimed is None:
        return result(
            Verdict.INCONCLUSIVE,
            f"{where}: no claimed site to compare with; nearest site is {_describe(nearest)}.",
            dists,
        )
    mine = next(d for d in dists if d.site == claimed.name)
    others = [d for d in dists if d.site != claimed.name and d.inside]
    also = "; it is also inside " + ", ".join(_describe(d) for d in others) if others else ""
    if mine.inside:
        return result(
            Verdict.CONSISTENT,
            f"{where} is inside the claimed site {_describe(mine)}{also}.",
            dists,
        )
    if mine.reachable:
        return result(
            Verdict.INCONCLUSIVE,
            f"{where} is outside the claimed site {_describe(mine)}, but its GPS error of "
            f"{error:g} m reaches inside the site; nearest site is {_describe(nearest)}.",
            dists,
        )
    if others:
        inside = min(others, key=lambda d: d.distance_m)
        tail = f"; it lies inside site {_describe(inside)}"
    else:
        tail = f"; it lies outside every site, nearest is {_describe(nearest)}"
    return result(
        Verdict.MISMATCH,
        f"{where} is outside the claimed site {_describe(mine)}{tail}.",
        dists,
    )


def _describe(d: SiteDistance) -> str:
    return f"{d.site!r} ({d.distance_m:,.0f} m from its centre, radius {d.radius_m:,.0f} m)"


def _distance(position: GeoPoint, site: SiteArea, error: float) -> SiteDistance:
    dist = distance_m(position, site.center)
    return SiteDistance(
        site=site.name,
        distance_m=dist,
        radius_m=site.radius_m,
        inside=dist <= site.radius_m,
        reachable=dist - error <= site.radius_m,
    )


def _resolve_claimed(sites: Sequence[SiteArea], claimed_site: str | None) -> SiteArea | None:
    names = [s.name for s in sites]
    if len(set(names)) != len(names):
        raise InvalidValueError(f"site names must be unique, got {names}")
    flagged = [s for s in sites if s.claimed]
    if len(flagged) > 1:
        raise InvalidValueError(
            f"more than one site is flagged claimed: {[s.name for s in flagged]}"
        )
    if claimed_site is None:
        return flagged[0] if flagged else None
    match = next((s for s in sites if s.name == claimed_site), None)
    if match is None:
        raise InvalidValueError(f"claimed site {claimed_site!r} is not among the sites {names}")
    if flagged and flagged[0] is not match:
        raise InvalidValueError(
            f"claimed site {claimed_site!r} disagrees with the flagged site {flagged[0].name!r}"
        )
    return match


def _validated_error(horizontal_error_m: float | None) -> float:
    if horizontal_error_m is None:
        return 0.0
    if not math.isfinite(horizontal_error_m) or horizontal_error_m < 0:
        raise InvalidValueError(f"GPS horizontal error {horizontal_error_m!r} must be >= 0 m")
    return horizontal_error_m
