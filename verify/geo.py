"""Positions on the Earth and geodesic distances between them.

Distances are geodesics on the WGS84 ellipsoid (pyproj.Geod, Karney's algorithm), the datum GPS
receivers report in; a spherical haversine is off by up to 0.5% at mid latitudes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from pyproj import Geod

from verify.errors import InvalidValueError

_WGS84 = Geod(ellps="WGS84")


@dataclass(frozen=True)
class GeoPoint:
    """A WGS84 latitude/longitude in decimal degrees (north and east positive)."""

    lat: float
    lon: float

    def __post_init__(self) -> None:
        for name, value, bound in (("latitude", self.lat, 90.0), ("longitude", self.lon, 180.0)):
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise InvalidValueError(f"{name} must be a number, got {value!r}")
            if not math.isfinite(value) or not -bound <= value <= bound:
                raise InvalidValueError(f"{name} {value!r} is outside -{bound:g}..{bound:g}")
        # Store plain floats so equality and JSON never depend on the caller's number type.
        object.__setattr__(self, "lat", float(self.lat))
        object.__setattr__(self, "lon", float(self.lon))

    def __str__(self) -> str:
        # Six decimals is ~0.1 m: finer than any GPS fix, coarse enough to read.
        return f"{self.lat:.6f}, {self.lon:.6f}"

    def to_dict(self) -> dict[str, float]:
        return {"lat": self.lat, "lon": self.lon}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> GeoPoint:
        return cls(lat=data["lat"], lon=data["lon"])


def distance_m(a: GeoPoint, b: GeoPoint) -> float:
    """Geodesic distance in metres between two points on the WGS84 ellipsoid."""
    _, _, dist = _WGS84.inv(a.lon, a.lat, b.lon, b.lat)
    return float(dist)


def bearing_deg(a: GeoPoint, b: GeoPoint) -> float:
    """Initial bearing from `a` towards `b` in degrees clockwise from true north, in [0, 360)."""
    azimuth, _, _ = _WGS84.inv(a.lon, a.lat, b.lon, b.lat)
    return float(azimuth) % 360.0


def destination(point: GeoPoint, bearing_deg: float, distance: float) -> GeoPoint:
    """The point reached by going `distance` metres from `point` along `bearing_deg` (from north,
    clockwise). Used to place test sites at known distances."""
    if not math.isfinite(bearing_deg) or not math.isfinite(distance) or distance < 0:
        raise InvalidValueError(f"bad bearing {bearing_deg!r} or distance {distance!r}")
    lon, lat, _ = _WGS84.fwd(point.lon, point.lat, bearing_deg, distance)
    lon = (lon + 180.0) % 360.0 - 180.0
    return GeoPoint(lat=max(-90.0, min(90.0, lat)), lon=lon)
