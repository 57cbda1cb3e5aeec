"""Tests for verify.geo: validated points and WGS84 geodesics."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from verify.errors import InvalidValueError
from verify.geo import GeoPoint, bearing_deg, destination, distance_m

lats = st.floats(-89.0, 89.0)
lons = st.floats(-180.0, 180.0)


@pytest.mark.parametrize(
    "lat,lon",
    [
        (90.0001, 0),
        (-91, 0),
        (0, 180.5),
        (0, -181),
        (math.nan, 0),
        (0, math.inf),
        (True, 0),
        ("1", 2),
    ],
)
def test_invalid_points_are_refused(lat, lon):
    with pytest.raises(InvalidValueError):
        GeoPoint(lat, lon)


def test_text_form_and_dict_round_trip():
    point = GeoPoint(43.4674483, 11.8851267)
    assert str(point) == "43.467448, 11.885127"
    assert GeoPoint.from_dict(point.to_dict()) == point
    assert GeoPoint(1, 2) == GeoPoint(1.0, 2.0)


def test_known_wgs84_distances():
    # One degree of latitude at the equator and of longitude along it on WGS84 (Karney 2013).
    assert distance_m(GeoPoint(0, 0), GeoPoint(1, 0)) == pytest.approx(110_574.389, abs=0.01)
    assert distance_m(GeoPoint(0, 0), GeoPoint(0, 1)) == pytest.approx(111_319.491, abs=0.01)
    assert distance_m(GeoPoint(10, 20), GeoPoint(10, 20)) == 0.0


@given(lats, lons, lats, lons)
def test_distance_is_symmetric_and_non_negative(lat1, lon1, lat2, lon2):
    a, b = GeoPoint(lat1, lon1), GeoPoint(lat2, lon2)
    assert distance_m(a, b) == pytest.approx(distance_m(b, a), abs=1e-6)
    assert 0 <= distance_m(a, b) <= 20_004_000


@given(lats, lons, st.floats(0, 360), st.floats(0, 50_000))
def test_destination_is_at_the_requested_distance(lat, lon, bearing, dist):
    start = GeoPoint(lat, lon)
    end = destination(start, bearing, dist)
    assert distance_m(start, end) == pytest.approx(dist, abs=1e-3)


def test_destination_refuses_bad_input():
    with pytest.raises(InvalidValueError):
        destination(GeoPoint(0, 0), math.nan, 10)
    with pytest.raises(InvalidValueError):
        destination(GeoPoint(0, 0), 0, -1)


@given(
    st.floats(-60, 60),
    st.floats(-170, 170),
    st.floats(0, 359.9),
    st.floats(10, 200_000),
)
def test_bearing_points_back_along_destination(lat, lon, bearing, dist):
    start = GeoPoint(lat, lon)
    got = bearing_deg(start, destination(start, bearing, dist))
    assert 0 <= got < 360
    assert min(abs(got - bearing), 360 - abs(got - bearing)) < 1e-6
