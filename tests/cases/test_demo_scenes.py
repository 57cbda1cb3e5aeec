"""The demo generator: deterministic files whose content tells the story the checks must find.

Site-match figures use OpenCV SIFT directly (not verify/features.py) so the scene generator is
judged independently of the matcher it is meant to exercise.
"""

from __future__ import annotations

import hashlib
import itertools
from dataclasses import fields
from fractions import Fraction
from pathlib import Path

import cv2
import exifread
import imagehash
import numpy as np
import pytest
from PIL import Image

from cases.demo.facts import ALHAL_MARKET, POPULAR_MARKET
from cases.demo.markets import POPULAR_LAYOUT, build_market
from cases.demo.scenes import VIDEO_FRAMES, VIDEO_SIZE, DemoAssets, build_demo_assets

SAME_MARKET_MIN_INLIERS = 100
# Fundamental-matrix fitting finds about 10 "inliers" even among uniformly random point pairs
# (measured: 20-100 random pairs at 1280x720, MAGSAC++ at 1.5 px gives 8-11), so unrelated
# places can never score zero; 15 is that floor plus a small margin.
CROSS_MARKET_MAX_INLIERS = 15
# Photos of one market that show no common part of it: at the random floor, far below a link.
NO_OVERLAP_MAX_INLIERS = 25


@pytest.fixture(scope="module")
def assets(tmp_path_factory: pytest.TempPathFactory) -> DemoAssets:
    return build_demo_assets(tmp_path_factory.mktemp("demo"))


def _all_files(assets: DemoAssets) -> list[Path]:
    files: set[Path] = set()
    for f in fields(assets):
        value = getattr(assets, f.name)
        if isinstance(value, Path) and value != assets.out_dir:
            files.add(value)
        elif isinstance(value, tuple) and value and isinstance(value[0], Path):
            files.update(value)
    return sorted(files)


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# ---------------------------------------------------------------- files and determinism


def test_every_file_exists_and_is_in_out_dir(assets: DemoAssets) -> None:
    files = _all_files(assets)
    assert len(files) == 18
    for path in files:
        assert path.parent == assets.out_dir
        assert path.stat().st_size > 1000
    assert {p.name for p in assets.out_dir.iterdir()} == {p.name for p in files}


def test_same_seed_gives_identical_bytes(assets: DemoAssets, tmp_path: Path) -> None:
    again = build_demo_assets(tmp_path / "again")
    for first, second in zip(_all_files(assets), _all_files(again), strict=True):
        assert first.name == second.name
        assert _digest(first) == _digest(second), first.name


def test_seed_changes_the_markets() -> None:
    a = build_market(np.random.default_rng(1), POPULAR_LAYOUT)
    b = build_market(np.random.default_rng(2), POPULAR_LAYOUT)
    assert not np.array_equal(a.planes[1].texture, b.planes[1].texture)


def test_photos_are_720p(assets: DemoAssets) -> None:
    for path in (*assets.reference_popular, *assets.reference_alhal, *assets.claim_photos):
        with Image.open(path) as image:
            assert image.size == (1280, 720)
            assert image.format == "JPEG"


def test_statement_is_utf8_with_translation(assets: DemoAssets) -> None:
    text = assets.statement_text.read_text(encoding="utf-8")
    assert "السوق الشعبي" in text
    assert "popular market" in text and "09:40" in text
    assert assets.witness.language == "ar"


def test_story_facts(assets: DemoAssets) -> None:
    assert assets.incident_date.isoformat() == "2019-07-22"
    assert assets.claim.published.isoformat() == "2019-07-22"
    assert assets.denial.published.isoformat() == "2019-07-23"
    assert assets.claim.site_name == assets.denial.site_name == POPULAR_MARKET.name
    for source in (*assets.claim.sources, *assets.denial.sources):
        assert source.url.startswith("https://example.org/")
    # the markets are a few hundred metres apart: further than either radius
    dlat = (POPULAR_MARKET.latitude - ALHAL_MARKET.latitude) * 111_000
    dlon = (POPULAR_MARKET.longitude - ALHAL_MARKET.longitude) * 111_000 * np.cos(np.radians(35.6))
    assert 2 * POPULAR_MARKET.radius_m < np.hypot(dlat, dlon) < 1000


# ---------------------------------------------------------------- video


def test_video_reads_back_with_expected_frames(assets: DemoAssets) -> None:
    capture = cv2.VideoCapture(str(assets.denial_video))
    assert capture.isOpened()
    count, first = 0, None
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        if first is None:
            first = frame
        count += 1
    capture.release()
    assert count == VIDEO_FRAMES == assets.video_frame_count
    assert first is not None and first.shape == (VIDEO_SIZE[1], VIDEO_SIZE[0], 3)
    assert float(first.std()) > 20  # a picture, not a blank frame


# ---------------------------------------------------------------- EXIF


def _tags(path: Path) -> dict:
    with path.open("rb") as handle:
        return exifread.process_file(handle, details=False)


def _degrees(tag: exifread.classes.IfdTag) -> float:
    d, m, s = (Fraction(v.num, v.den) for v in tag.values)
    return float(d + m / 60 + s / 3600)


@pytest.mark.parametrize(
    ("role", "site", "when"),
    [
        ("claim", POPULAR_MARKET, "2019:07:22"),
        ("gps", ALHAL_MARKET, "2019:07:23"),
        ("older", ALHAL_MARKET, "2017:05:09"),
    ],
)
def test_exif_time_and_gps_read_back(assets: DemoAssets, role: str, site, when: str) -> None:
    paths = {
        "claim": assets.claim_photos,
        "gps": (assets.gps_still,),
        "older": (assets.older_item,),
    }[role]
    for path in paths:
        tags = _tags(path)
        assert str(tags["EXIF DateTimeOriginal"]).startswith(when)
        assert str(tags["EXIF OffsetTimeOriginal"]) == "+03:00"
        assert str(tags["GPS GPSLatitudeRef"]) == "N"
        assert str(tags["GPS GPSLongitudeRef"]) == "E"
        assert _degrees(tags["GPS GPSLatitude"]) == pytest.approx(site.latitude, abs=1e-5)
        assert _degrees(tags["GPS GPSLongitude"]) == pytest.approx(site.longitude, abs=1e-5)
        assert str(tags["Image Make"]) == "samsung"


def test_claim_photos_taken_after_the_strike(assets: DemoAssets) -> None:
    for path in assets.claim_photos:
        stamp = str(_tags(path)["EXIF DateTimeOriginal"])
        assert stamp > assets.incident_time.strftime("%Y:%m:%d %H:%M:%S")
        assert stamp.startswith("2019:07:22")


def test_recycled_still_has_no_metadata(assets: DemoAssets) -> None:
    assert "EXIF DateTimeOriginal" not in _tags(assets.recycled_still)
    assert "GPS GPSLatitude" not in _tags(assets.recycled_still)


# ---------------------------------------------------------------- recycled still


def test_recycled_still_is_near_duplicate_of_older_item_only(assets: DemoAssets) -> None:
    def phash(path: Path) -> imagehash.ImageHash:
        with Image.open(path) as image:
            return imagehash.phash(image)

    recycled = phash(assets.recycled_still)
    assert recycled - phash(assets.older_item) <= 10
    others = set(_all_files(assets)) - {assets.recycled_still, assets.older_item}
    for path in others:
        if path.suffix == ".jpg":
            assert recycled - phash(path) > 16, path.name
    with Image.open(assets.recycled_still) as a, Image.open(assets.older_item) as b:
        assert a.size != b.size  # re-published: cropped and resized, not a byte copy


# ---------------------------------------------------------------- site matching figures


_SIFT = cv2.SIFT_create(nfeatures=4000)


def _features(image: np.ndarray) -> tuple:
    grey = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    return _SIFT.detectAndCompute(grey, None)


def _inliers(a: tuple, b: tuple) -> int:
    """One-to-one ratio-test SIFT matches, then fundamental-matrix inliers (MAGSAC++)."""
    (kp_a, desc_a), (kp_b, desc_b) = a, b
    flann = cv2.FlannBasedMatcher({"algorithm": 1, "trees": 4}, {"checks": 64})
    pairs = flann.knnMatch(desc_a, desc_b, k=2)
    good = [p[0] for p in pairs if len(p) == 2 and p[0].distance < 0.75 * p[1].distance]
    # one-to-one: SIFT emits several keypoints at one spot (one per orientation), and a single
    # spot matched many times would count as many inliers
    best: dict[int, cv2.DMatch] = {}
    for m in good:
        if m.trainIdx not in best or m.distance < best[m.trainIdx].distance:
            best[m.trainIdx] = m
    good = list(best.values())
    if len(good) < 8:
        return 0
    pts_a = np.float32([kp_a[m.queryIdx].pt for m in good])
    pts_b = np.float32([kp_b[m.trainIdx].pt for m in good])
    _, mask = cv2.findFundamentalMat(pts_a, pts_b, cv2.USAC_MAGSAC, 1.5, 0.999, 10000)
    return 0 if mask is None else int(mask.sum())


@pytest.fixture(scope="module")
def features(assets: DemoAssets) -> dict[str, tuple]:
    images = {p.stem: cv2.imread(str(p)) for p in _all_files(assets) if p.suffix == ".jpg"}
    capture = cv2.VideoCapture(str(assets.denial_video))
    for index in (0, VIDEO_FRAMES // 2, VIDEO_FRAMES - 1):
        capture.set(cv2.CAP_PROP_POS_FRAMES, index)
        ok, frame = capture.read()
        assert ok
        images[f"video_{index}"] = frame
    capture.release()
    return {name: _features(image) for name, image in images.items()}


def _popular(name: str) -> bool:
    return "popular" in name or name.startswith("claim")


def test_same_market_views_match(features: dict[str, tuple]) -> None:
    # Each reference shares hundreds of verified matches with the other references of its market.
    for market in ("popular", "alhal"):
        refs = sorted(n for n in features if n.startswith(f"reference_{market}"))
        for a, b in itertools.combinations(refs, 2):
            assert _inliers(features[a], features[b]) >= SAME_MARKET_MIN_INLIERS, (a, b)


def test_claim_and_denial_footage_match_their_own_market(features: dict[str, tuple]) -> None:
    def best(name: str, market: str) -> int:
        refs = [n for n in features if n.startswith(f"reference_{market}")]
        return max(_inliers(features[name], features[r]) for r in refs)

    for name in features:
        if name.startswith("claim"):
            assert best(name, "popular") >= SAME_MARKET_MIN_INLIERS, name
        if name.startswith(("video", "denial_still", "older")):
            assert best(name, "alhal") >= SAME_MARKET_MIN_INLIERS, name


def test_walkthrough_end_links_only_through_neighbours(
    assets: DemoAssets, features: dict[str, tuple]
) -> None:
    walk = [p.stem for p in assets.denial_walkthrough]
    beyond = {p.stem for p in assets.walkthrough_beyond_references}
    assert 1 <= len(beyond) < len(walk)
    refs = [p.stem for p in assets.reference_alhal]
    for name in walk:
        best = max(_inliers(features[name], features[r]) for r in refs)
        if name in beyond:
            assert best <= NO_OVERLAP_MAX_INLIERS, name
        else:
            assert best >= SAME_MARKET_MIN_INLIERS, name
    for a, b in itertools.pairwise(walk):
        assert _inliers(features[a], features[b]) >= SAME_MARKET_MIN_INLIERS, (a, b)


def test_markets_do_not_match_each_other(features: dict[str, tuple]) -> None:
    popular = [n for n in features if _popular(n)]
    alhal = [n for n in features if not _popular(n)]
    worst = max(_inliers(features[a], features[b]) for a in popular for b in alhal)
    assert worst <= CROSS_MARKET_MAX_INLIERS
