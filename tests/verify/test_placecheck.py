"""Tests for verify.placecheck: sites as circles, GPS error circles, verdicts and details."""

from __future__ import annotations

import pytest

from verify.errors import InvalidValueError
from verify.exif import extract_photo_metadata
from verify.geo import GeoPoint, destination, distance_m
from verify.placecheck import SiteArea, check_place
from verify.verdict import Verdict

MARKET_A = GeoPoint(36.2021, 37.1343)
MARKET_B = destination(MARKET_A, 90, 2_000)


def sites(claimed="Market A", radius=250.0):
    return [
        SiteArea("Market A", MARKET_A, radius, claimed=claimed == "Market A"),
        SiteArea("Market B", MARKET_B, radius, claimed=claimed == "Market B"),
    ]


def test_inside_claimed_site_is_consistent():
    pos = destination(MARKET_A, 10, 100)
    result = check_place(pos, sites(), "Market A")
    assert result.verdict is Verdict.CONSISTENT
    assert result.nearest_site == "Market A"
    assert result.nearest_distance_m == pytest.approx(100, abs=0.01)
    assert "'Market A' (100 m from its centre, radius 250 m)" in result.detail
    assert str(pos) in result.detail


def test_inside_other_site_is_mismatch_naming_it():
    pos = destination(MARKET_B, 200, 50)
    result = check_place(pos, sites(), "Market A")
    assert result.verdict is Verdict.MISMATCH
    assert result.nearest_site == "Market B"
    assert "inside site 'Market B' (50 m from its centre" in result.detail
    expected = distance_m(pos, MARKET_A)
    assert f"'Market A' ({expected:,.0f} m from its centre" in result.detail
    by_site = {d.site: d for d in result.distances}
    assert by_site["Market B"].inside and not by_site["Market A"].inside


def test_outside_every_site_is_mismatch_with_nearest():
    pos = destination(MARKET_A, 270, 5_000)
    result = check_place(pos, sites(), "Market A")
    assert result.verdict is Verdict.MISMATCH
    assert result.nearest_site == "Market A"
    assert "outside every site, nearest is 'Market A' (5,000 m" in result.detail


def test_no_position_is_inconclusive():
    result = check_place(None, sites(), "Market A")
    assert result.verdict is Verdict.INCONCLUSIVE
    assert "no position in metadata" in result.detail.lower()
    assert result.distances == ()


def test_gps_error_circle_overlapping_claimed_site_is_not_a_mismatch():
    pos = destination(MARKET_A, 0, 300)  # 50 m outside the 250 m radius
    assert check_place(pos, sites(), "Market A").verdict is Verdict.MISMATCH
    result = check_place(pos, sites(), "Market A", horizontal_error_m=60)
    assert result.verdict is Verdict.INCONCLUSIVE
    assert "GPS error of 60 m" in result.detail and "(±60 m)" in result.detail
    far = check_place(pos, sites(), "Market A", horizontal_error_m=40)
    assert far.verdict is Verdict.MISMATCH


def test_claimed_flag_used_when_no_name_given():
    pos = destination(MARKET_B, 0, 10)
    assert check_place(pos, sites(claimed="Market B"), None).verdict is Verdict.CONSISTENT
    unclaimed = [SiteArea("Market A", MARKET_A, 250), SiteArea("Market B", MARKET_B, 250)]
    result = check_place(pos, unclaimed, None)
    assert result.verdict is Verdict.INCONCLUSIVE and "no claimed site" in result.detail


def test_bad_site_lists_are_refused():
    with pytest.raises(InvalidValueError):
        SiteArea("x", MARKET_A, 0)
    with pytest.raises(InvalidValueError):
        SiteArea(" ", MARKET_A, 10)
    with pytest.raises(InvalidValueError, match="not among"):
        check_place(MARKET_A, sites(), "Market C")
    with pytest.raises(InvalidValueError, match="disagrees"):
        check_place(MARKET_A, sites(claimed="Market B"), "Market A")
    with pytest.raises(InvalidValueError, match="unique"):
        check_place(MARKET_A, [SiteArea("a", MARKET_A, 5), SiteArea("a", MARKET_B, 5)], "a")
    with pytest.raises(InvalidValueError):
        check_place(MARKET_A, sites(), "Market A", horizontal_error_m=-1)


def test_real_photos_against_sites_placed_from_their_own_gps(exif_dir):
    """The Arezzo photos span ~600 m: a 1 km site at their centroid holds them all, a site 5 km
    away claims none of them."""
    metas = [extract_photo_metadata(p) for p in sorted((exif_dir / "gps").glob("*.jpg"))]
    points = [m.gps.position for m in metas]
    centre = GeoPoint(
        sum(p.lat for p in points) / len(points), sum(p.lon for p in points) / len(points)
    )
    here = SiteArea("Arezzo walk", centre, 1_000, claimed=True)
    away = SiteArea("elsewhere", destination(centre, 45, 5_000), 300)
    for point in points:
        assert check_place(point, [here, away], None).verdict is Verdict.CONSISTENT
        wrong = check_place(point, [SiteArea("Arezzo walk", centre, 1_000), away], "elsewhere")
        assert wrong.verdict is Verdict.MISMATCH and wrong.nearest_site == "Arezzo walk"


def test_result_to_dict_is_plain():
    result = check_place(destination(MARKET_A, 0, 10), sites(), "Market A")
    data = result.to_dict()
    assert data["verdict"] == "consistent" and data["nearest_site"] == "Market A"
    assert {d["site"] for d in data["distances"]} == {"Market A", "Market B"}
