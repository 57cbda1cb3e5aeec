"""The report's map stays readable whatever the spread of the points.

Geometry is checked on the SVG itself: every text's box (estimated at 0.64 em a character, the
advance of DejaVu Sans digits, the widest common default sans-serif) must stay clear of every
other text and of every marker, and the sites must stay apart even when one file's GPS puts it
50 km away (the case this was written for: two markets ~400 m apart in Ma'arat al-Nu'man).
"""

from __future__ import annotations

import random
import re
import xml.etree.ElementTree as ET
from datetime import UTC, date, datetime
from typing import Any

import numpy as np
import pytest

from cases import workflow
from cases.demo.exifwrite import CameraTags, write_jpeg
from cases.ingest import LinkSpec, add_evidence
from cases.report.data import build_report
from cases.report.html import render_html
from cases.report.mapsvg import draw_map, render_map_svg
from cases.report.markdown import render_markdown
from cases.report.present import derived_reader, offset_text
from evidence_store.db import init_workspace
from verify.geo import GeoPoint, bearing_deg, destination, distance_m

NS = "{http://www.w3.org/2000/svg}"
TEXT_EM = 0.64
FONT_PX = {"lbl": 13.0, "sm": 11.0}
POPULAR = GeoPoint(35.6436, 36.6757)
AL_HAL = GeoPoint(35.6404, 36.6733)

Box = tuple[float, float, float, float]


def _sites() -> list[dict[str, Any]]:
    return [
        {"name": "popular market", "lat": POPULAR.lat, "lon": POPULAR.lon, "radius_m": 150.0,
         "claimed": True},
        {"name": "al Hal market", "lat": AL_HAL.lat, "lon": AL_HAL.lon, "radius_m": 150.0,
         "claimed": False},
    ]  # fmt: skip


def _position(n: int, point: GeoPoint, name: str) -> dict[str, Any]:
    # The report data measures offsets from the claimed site; the map only formats them.
    d = distance_m(POPULAR, point)
    return {
        "item": f"E-{n:06d}",
        "filename": name,
        "lat": point.lat,
        "lon": point.lon,
        "source": "EXIF GPS",
        "offset": {
            "from": "popular market",
            "from_kind": "claimed site",
            "distance_m": round(d, 1),
            "bearing_deg": round(bearing_deg(POPULAR, point)) % 360,
        },
    }


def _two_markets_and_a_far_photo() -> dict[str, Any]:
    far = destination(POPULAR, 45.0, 51_200.0)
    return {
        "sites": _sites(),
        "positions": [
            _position(7, POPULAR, "claim_photo_1.jpg"),
            _position(8, POPULAR, "claim_photo_2.jpg"),
            _position(10, AL_HAL, "denial_still_gps.jpg"),
            _position(20, far, "forwarded_copy.jpg"),
        ],
        "incident": {"lat": 35.6420, "lon": 36.6745, "place": "Ma'arat al-Nu'man"},
    }


def _crowded(seed: int) -> dict[str, Any]:
    """Two or three sites within a kilometre, positions around them, some far away."""
    rng = random.Random(seed)
    sites = _sites()[: 1 + rng.randint(1, 1)]
    if rng.random() < 0.5:
        extra = destination(POPULAR, rng.uniform(0, 360), rng.uniform(50, 900))
        sites.append({"name": f"site {seed}", "lat": extra.lat, "lon": extra.lon,
                      "radius_m": rng.choice([20.0, 80.0, 300.0]), "claimed": False})  # fmt: skip
    positions = []
    for n in range(rng.randint(3, 12)):
        spot = destination(POPULAR, rng.uniform(0, 360), rng.uniform(0, 600))
        positions.append(_position(n + 1, spot, f"IMG_{rng.randint(1000, 9999)}.jpg"))
    for n in range(rng.randint(0, 3)):
        spot = destination(POPULAR, rng.uniform(0, 360), rng.uniform(8_000, 300_000))
        positions.append(_position(100 + n, spot, f"far_{n}.jpg"))
    return {"sites": sites, "positions": positions, "incident": None}


def _numbers(d: str) -> list[float]:
    return [float(v) for v in re.findall(r"-?\d+(?:\.\d+)?", d)]


def _parse(svg: str) -> tuple[ET.Element, float, float]:
    root = ET.fromstring(svg)
    width, height = (float(v) for v in root.attrib["viewBox"].split()[2:])
    return root, width, height


def _text_boxes(root: ET.Element) -> list[tuple[str, Box]]:
    boxes = []
    for t in root.iter(f"{NS}text"):
        size = FONT_PX[t.attrib["class"]]
        width = len(t.text or "") * size * TEXT_EM
        x, y = float(t.attrib["x"]), float(t.attrib["y"])
        anchor = t.attrib.get("text-anchor", "start")
        x0 = {"start": x, "middle": x - width / 2, "end": x - width}[anchor]
        boxes.append((t.text or "", (x0, y - 0.9 * size, x0 + width, y + 0.25 * size)))
    return boxes


def _marker_boxes(root: ET.Element) -> list[Box]:
    """Position dots, site centre dots, the incident cross and the off-map arrows."""
    boxes = []
    for c in root.iter(f"{NS}circle"):
        if c.attrib.get("class") in ("pos", "dot"):
            x, y, r = (float(c.attrib[k]) for k in ("cx", "cy", "r"))
            boxes.append((x - r, y - r, x + r, y + r))
    for p in root.iter(f"{NS}path"):
        if p.attrib.get("class") in ("incident", "off"):
            v = _numbers(p.attrib["d"])
            xs, ys = v[0::2], v[1::2]
            boxes.append((min(xs), min(ys), max(xs), max(ys)))
    return boxes


def _overlap(a: Box, b: Box) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def _assert_readable(svg: str) -> None:
    root, width, height = _parse(svg)
    texts = _text_boxes(root)
    markers = _marker_boxes(root)
    for i, (text, box) in enumerate(texts):
        assert box[0] >= 0 and box[1] >= 0 and box[2] <= width and box[3] <= height, text
        for other, other_box in texts[i + 1 :]:
            assert not _overlap(box, other_box), f"{text!r} overlaps {other!r}"
        for m in markers:
            assert not _overlap(box, m), f"{text!r} covers a marker at {m}"


def _site_centres(root: ET.Element) -> list[tuple[float, float]]:
    return [
        (float(c.attrib["cx"]), float(c.attrib["cy"]))
        for c in root.iter(f"{NS}circle")
        if c.attrib.get("class") in ("site", "claimed")
    ]


def _pixels_per_metre(root: ET.Element) -> float:
    """What the scale bar says: its length in pixels over the distance written on it."""
    bar = next(p for p in root.iter(f"{NS}path") if p.attrib.get("class") == "scalebar")
    v = _numbers(bar.attrib["d"].replace("V", " ").replace("H", " "))
    length_px = v[3] - v[0]
    label = next(
        t.text for t in root.iter(f"{NS}text") if re.fullmatch(r"[\d.]+ k?m", t.text or "")
    )
    number, unit = label.split()
    return length_px / (float(number) * (1000 if unit == "km" else 1))


def test_two_markets_stay_apart_and_labelled_when_a_photo_is_50_km_away():
    svg = render_map_svg(_two_markets_and_a_far_photo())
    assert svg is not None
    _assert_readable(svg)
    root, _, _ = _parse(svg)
    (ax, ay), (bx, by) = _site_centres(root)
    apart_px = ((ax - bx) ** 2 + (ay - by) ** 2) ** 0.5
    assert apart_px >= 40, "the two markets merged into one spot"
    # The scale bar is true for what is drawn: pixels between the markets over their distance.
    assert _pixels_per_metre(root) == pytest.approx(
        apart_px / distance_m(POPULAR, AL_HAL), rel=0.01
    )


def test_a_far_photo_is_listed_at_the_edge_with_distance_and_bearing():
    drawing = draw_map(_two_markets_and_a_far_photo())
    assert drawing is not None and drawing.off_map == ("E-000020",)
    root, width, height = _parse(drawing.svg)
    texts = [t.text or "" for t in root.iter(f"{NS}text")]
    assert "E-000020 forwarded_copy.jpg (off the map)" in texts
    assert "51.2 km NE (45°) of popular market" in texts
    arrows = [p for p in root.iter(f"{NS}path") if p.attrib.get("class") == "off"]
    assert len(arrows) == 1
    v = _numbers(arrows[0].attrib["d"])
    tip_x, tip_y = v[0], v[1]
    assert 0 < tip_x < width and 0 < tip_y < height
    # North-east of the claimed site: right of it and above it on the drawing.
    (cx, cy), _ = _site_centres(root)
    assert tip_x > cx and tip_y < cy
    # Points near the sites are still drawn in place, not sent to the edge.
    assert "incident: Ma'arat al-Nu'man" in texts and "E-000010 denial_still_gps.jpg" in texts


def test_coinciding_photos_share_one_marker_and_one_label_each_line():
    root, _, _ = _parse(render_map_svg(_two_markets_and_a_far_photo()) or "")
    dots = [c for c in root.iter(f"{NS}circle") if c.attrib.get("class") == "pos"]
    assert len(dots) == 2  # claim_photo_1 and _2 at one spot, denial_still_gps at the other
    texts = [t.text for t in root.iter(f"{NS}text")]
    assert "E-000007 claim_photo_1.jpg" in texts and "E-000008 claim_photo_2.jpg" in texts


@pytest.mark.parametrize("seed", range(40))
def test_generated_layouts_keep_labels_clear(seed: int):
    data = _crowded(seed)
    drawing = draw_map(data)
    assert drawing is not None
    _assert_readable(drawing.svg)
    texts = " ".join(t.text or "" for t in ET.fromstring(drawing.svg).iter(f"{NS}text"))
    for p in data["positions"]:
        assert p["item"] in texts  # every position is drawn or listed at the edge
        if p["item"] in drawing.off_map:
            assert offset_text(p["offset"]) in texts


def test_the_map_is_the_same_every_time():
    assert render_map_svg(_crowded(7)) == render_map_svg(_crowded(7))


def test_far_only_positions_without_sites_are_still_drawn():
    near = destination(POPULAR, 10, 100)
    far = destination(POPULAR, 200, 40_000)
    data = {
        "sites": [],
        "positions": [_position(1, near, "a.jpg"), _position(2, far, "b.jpg")],
        "incident": {"lat": POPULAR.lat, "lon": POPULAR.lon, "place": "town"},
    }
    drawing = draw_map(data)
    assert drawing is not None and drawing.off_map == ("E-000002",)
    _assert_readable(drawing.svg)


@pytest.fixture(scope="module")
def far_photo_report(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("farmap")
    w = init_workspace(root / "ws")
    case = workflow.open_case(w, "tester", title="Market strike", incident_date=date(2019, 7, 22))
    workflow.add_site(
        w, "tester", case.code, name="popular market", lat=POPULAR.lat, lon=POPULAR.lon,
        radius_m=150.0, claimed=True,
    )  # fmt: skip
    workflow.add_site(
        w, "tester", case.code, name="al Hal market", lat=AL_HAL.lat, lon=AL_HAL.lon,
        radius_m=150.0,
    )  # fmt: skip
    far = destination(POPULAR, 45.0, 51_200.0)
    texture = (np.random.default_rng(5).random((120, 160, 3)) * 255).astype("uint8")
    taken = datetime(2019, 7, 22, 7, 0, tzinfo=UTC)
    near_tags = CameraTags("m", "x", taken, AL_HAL.lat, AL_HAL.lon)
    far_tags = CameraTags("m", "x", taken, far.lat, far.lon)
    photos = [
        write_jpeg(root / "near.jpg", texture, tags=near_tags),
        write_jpeg(root / "far.jpg", texture[::-1].copy(), tags=far_tags),
    ]
    add_evidence(w, "tester", case.code, photos, kind="photo", links=[LinkSpec("supports_claim")])
    return w, build_report(w, case.code), root


def test_html_and_markdown_reports_show_the_far_photo_alike(far_photo_report):
    w, report, root = far_photo_report
    far = next(p for p in report["map"]["positions"] if p["filename"] == "far.jpg")
    assert far["offset"]["from"] == "popular market"
    assert far["offset"]["distance_m"] == pytest.approx(51_200, abs=30)
    html = render_html(report, derived_reader(w))
    md = render_markdown(report, derived_reader(w), root / "md_files", "md_files")
    svg = (root / "md_files" / "map.svg").read_text(encoding="utf-8")
    # One map for both: the Markdown's map file is the HTML's inline SVG.
    assert svg in html
    for page in (html, md):
        assert (
            f"shown as arrows at the map's edge with their distance and bearing: {far['item']}"
            in page
        )
        assert "51.2 km NE" in page  # in the positions table of both
    _assert_readable(svg)


def test_report_offsets_name_the_claimed_site_first(far_photo_report):
    _, report, _ = far_photo_report
    near = next(p for p in report["map"]["positions"] if p["filename"] == "near.jpg")
    assert near["offset"]["from"] == "popular market"
    assert near["offset"]["distance_m"] == pytest.approx(distance_m(POPULAR, AL_HAL), abs=2)
    assert offset_text(near["offset"]).endswith("SW (211°) of popular market")


def test_offset_text_reads_like_an_investigator_would_write_it():
    assert offset_text(None) == ""
    at = {"from": "x", "from_kind": "site", "distance_m": 0.0, "bearing_deg": None}
    assert offset_text(at) == "at x"
    far = {"from": "x", "from_kind": "site", "distance_m": 51234.0, "bearing_deg": 44}
    assert offset_text(far) == "51.2 km NE (44°) of x"
    assert offset_text({**far, "distance_m": 380.4, "bearing_deg": 359}) == "380 m N (359°) of x"


def test_a_position_with_impossible_coordinates_is_left_out_of_the_drawing():
    data = _two_markets_and_a_far_photo()
    bad = {**_position(30, POPULAR, "broken_gps.jpg"), "lat": float("nan"), "offset": None}
    data["positions"].append({**bad, "item": "E-000031", "lat": 400.0})
    data["positions"].append(bad)
    drawing = draw_map(data)
    assert drawing is not None and "nan" not in drawing.svg.lower()
    assert "broken_gps" not in drawing.svg and drawing.off_map == ("E-000020",)
    _assert_readable(drawing.svg)


def test_an_incident_point_far_from_the_sites_is_an_arrow_too():
    data = _two_markets_and_a_far_photo()
    spot = destination(POPULAR, 180.0, 30_000.0)
    incident = {"lat": spot.lat, "lon": spot.lon, "place": "district centre"}
    incident["offset"] = {**_position(0, spot, "")["offset"]}
    data["incident"] = incident
    drawing = draw_map(data)
    assert drawing is not None and drawing.off_map == ("incident", "E-000020")
    texts = [t.text for t in ET.fromstring(drawing.svg).iter(f"{NS}text")]
    assert "incident: district centre (off the map)" in texts
    assert "30.0 km S (180°) of popular market" in texts
    _assert_readable(drawing.svg)
