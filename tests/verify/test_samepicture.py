"""Tests for verify/samepicture.py: a cropped or rotated copy of a real photo aligns as the same
picture; another photo of the same building does not."""

from __future__ import annotations

import io
import tracemalloc
from pathlib import Path

import cv2
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from verify.errors import InvalidValueError
from verify.hashindex import words_from_hex
from verify.hashing import HashDistances
from verify.media import load_image
from verify.samepicture import (
    ANCHOR_COUNT,
    ANCHOR_GRID,
    ANCHOR_RADIUS,
    ANCHOR_SCALES,
    ANCHORS_PER_CELL,
    CONFIRM_SIDE,
    FEATURE_SETTINGS,
    MIN_ANCHOR_VOTES,
    PictureFeatures,
    _rank_within_groups,
    align_pictures,
    anchor_descriptors,
    anchor_words,
    anchors_to_hex,
    in_near_band,
)


@pytest.fixture(scope="module")
def church(sites_dir: Path) -> list[np.ndarray]:
    return [
        load_image(sites_dir / "herz_jesu_church" / f"000{i}.jpg", max_side=CONFIRM_SIDE * 2)
        for i in range(3)
    ]


def _reencode(rgb: np.ndarray, quality: int = 60) -> np.ndarray:
    ok, buf = cv2.imencode(".jpg", rgb, [cv2.IMWRITE_JPEG_QUALITY, quality])
    assert ok
    return cv2.imdecode(buf, cv2.IMREAD_UNCHANGED)


def test_cropped_copy_is_the_same_picture(church):
    h, w = church[0].shape[:2]
    crop = _reencode(church[0][round(0.07 * h) : h - round(0.03 * h), round(0.06 * w) :])
    result = align_pictures(church[0], crop)
    assert result.is_same and not result.mirrored
    assert result.correlation > 0.9 and result.inliers > 50


def test_rotated_mirrored_copy_is_the_same_picture(church):
    h, w = church[1].shape[:2]
    turn = cv2.getRotationMatrix2D((w / 2, h / 2), 5.0, 1.0)
    rotated = cv2.warpAffine(church[1], turn, (w, h), borderMode=cv2.BORDER_REFLECT)
    result = align_pictures(church[1], _reencode(np.ascontiguousarray(rotated[:, ::-1])))
    assert result.is_same and result.mirrored
    assert abs(abs(result.rotation_deg) - 5.0) < 1.0


def test_other_photo_of_the_same_building_is_not(church):
    assert not align_pictures(church[0], church[1]).is_same
    assert not align_pictures(church[1], church[2]).is_same


def test_flat_picture_cannot_be_aligned():
    flat = np.full((200, 300, 3), 128, np.uint8)
    result = align_pictures(flat, flat)
    assert not result.is_same and result.inliers == 0


def test_rejects_non_images():
    with pytest.raises(InvalidValueError):
        align_pictures(np.zeros((10, 10), np.float32), np.zeros((10, 10), np.uint8))


def test_near_band():
    assert in_near_band(HashDistances(phash=30, dhash=30, pdq=90, colorhash=0))
    assert in_near_band(HashDistances(phash=20, dhash=12, pdq=200, colorhash=0))
    assert not in_near_band(HashDistances(phash=30, dhash=12, pdq=120, colorhash=0))


def test_anchors_are_spread_over_the_picture_and_scales(church):
    features = PictureFeatures(church[0])
    anchors = anchor_descriptors(features)
    assert anchors.shape == (ANCHOR_COUNT, 32) and anchors.dtype == np.uint8
    assert [bytes.fromhex(h) for h in anchors_to_hex(anchors)] == [r.tobytes() for r in anchors]
    words = words_from_hex(anchors_to_hex(anchors), 256)
    np.testing.assert_array_equal(anchor_words(anchors), words)
    # The first share comes from the working size: every grid cell holds some of them, where the
    # strongest corners alone crowd into the richest texture.
    per_scale = ANCHOR_COUNT // len(ANCHOR_SCALES)
    row_of = {r.tobytes(): i for i, r in enumerate(features.descriptors)}
    full = np.array([row_of[r.tobytes()] for r in anchors[:per_scale]])
    h, w = features.shape
    cells = {(int(x * ANCHOR_GRID / w), int(y * ANCHOR_GRID / h)) for x, y in features.points[full]}
    # (Every cell with corners: this photo has one of plain sky.)
    assert len(cells) >= ANCHOR_GRID * ANCHOR_GRID - 1
    strongest = np.argsort(-features.responses, kind="stable")[:per_scale]
    strongest_cells = {
        (int(x * ANCHOR_GRID / w), int(y * ANCHOR_GRID / h)) for x, y in features.points[strongest]
    }
    assert len(strongest_cells) < len(cells)
    # The other shares are the same choice made on the picture at each smaller scale.
    for k, scale in enumerate(ANCHOR_SCALES[1:], start=1):
        h2, w2 = max(1, int(h * scale)), max(1, int(w * scale))
        small = PictureFeatures(cv2.resize(features.gray, (w2, h2), interpolation=cv2.INTER_AREA))
        own = {r.tobytes() for r in small.descriptors}
        assert all(r.tobytes() in own for r in anchors[k * per_scale : (k + 1) * per_scale])
    assert anchor_descriptors(np.full((50, 50, 3), 9, np.uint8)).shape == (0, 32)


def test_a_quarter_crop_shares_enough_anchors_with_its_original(church):
    """The anchor gate: a 25% crop (re-encoded) shares >= MIN_ANCHOR_VOTES anchors with its
    original, another photo of the same church far fewer."""
    h, w = church[0].shape[:2]
    crop = _reencode(church[0][h // 6 : h - h // 12, w // 6 : w - w // 12])

    def votes(a: np.ndarray, b: np.ndarray) -> int:
        x, y = anchor_words(anchor_descriptors(a)), anchor_words(anchor_descriptors(b))
        dist = np.bitwise_count(x[:, None, :] ^ y[None, :, :]).sum(axis=2)
        return int((dist.min(axis=1) <= ANCHOR_RADIUS).sum())

    assert votes(crop, church[0]) >= MIN_ANCHOR_VOTES
    assert votes(church[1], church[0]) < votes(crop, church[0])
    # A deeper crop, re-posted as a small compressed thumbnail (a zoom of 1.5x at the working
    # size, between two octaves: what the middle anchor scale is for), still passes the gate.
    deep = church[0][round(0.23 * h) : h - round(0.12 * h), round(0.23 * w) : w - round(0.12 * w)]
    thumb = cv2.resize(deep, (deep.shape[1] // 2, deep.shape[0] // 2), interpolation=cv2.INTER_AREA)
    assert votes(_reencode(thumb, 40), church[0]) >= MIN_ANCHOR_VOTES


def test_cached_features_align_exactly_as_fresh_ones(church):
    """Features written to a cache and read back give the same alignment; the pixels are loaded
    only when a pair reaches the pixel comparison."""
    h, w = church[0].shape[:2]
    crop = _reencode(church[0][round(0.1 * h) :, round(0.1 * w) :])
    fresh = PictureFeatures(church[0])
    loads: list[int] = []

    def load() -> np.ndarray:
        loads.append(1)
        return church[0]

    cached = PictureFeatures.from_bytes(fresh.to_bytes(), load)
    # The anchors travel with the features: no pixels needed for them either.
    np.testing.assert_array_equal(anchor_descriptors(cached), anchor_descriptors(fresh))
    assert not loads
    query = PictureFeatures(crop)
    assert align_pictures(cached, query, mirrored=False) == align_pictures(
        fresh, query, mirrored=False
    )
    assert loads == [1]
    # A pair rejected on its ORB matches never loads the pixels.
    other = PictureFeatures.from_bytes(fresh.to_bytes(), load)
    flat = PictureFeatures(np.full((200, 300), 128, np.uint8))
    assert not align_pictures(other, flat, mirrored=False).is_same
    assert loads == [1]


def _rewritten(blob: bytes, **changes: object) -> bytes:
    """A features blob with some of its fields replaced (as another version would write it)."""
    with np.load(io.BytesIO(blob), allow_pickle=False) as z:
        fields = {k: z[k] for k in z.files}
    fields.update({k: np.array(v) for k, v in changes.items()})
    out = io.BytesIO()
    np.savez(out, **fields)
    return out.getvalue()


def test_cached_features_that_inflate_hugely_are_refused_before_loading(church):
    """A small cache file whose deflated member inflates to 256 MB (np.load allocated it all
    before the shape checks could refuse it)."""
    with np.load(io.BytesIO(PictureFeatures(church[0]).to_bytes()), allow_pickle=False) as z:
        fields = {k: z[k] for k in z.files}
    fields["points"] = np.zeros((1 << 25, 2), np.float32)
    out = io.BytesIO()
    np.savez_compressed(out, **fields)
    bomb = out.getvalue()
    del fields
    assert len(bomb) < 1 << 20
    tracemalloc.start()
    try:
        with pytest.raises(InvalidValueError, match="inflated"):
            PictureFeatures.from_bytes(bomb, lambda: church[0])
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 1 << 24


def test_cached_features_of_other_settings_or_damaged_are_refused(church):
    good = PictureFeatures(church[0]).to_bytes()
    assert PictureFeatures.from_bytes(_rewritten(good), lambda: church[0]).shape
    with pytest.raises(InvalidValueError):
        PictureFeatures.from_bytes(good[: len(good) // 2], lambda: church[0])
    with pytest.raises(InvalidValueError, match="made with"):
        PictureFeatures.from_bytes(_rewritten(good, settings="orb500-480px-v1"), lambda: church[0])
    with pytest.raises(InvalidValueError, match="inconsistent"):
        PictureFeatures.from_bytes(
            _rewritten(good, descriptors=np.zeros((3, 32), np.uint8)), lambda: church[0]
        )
    # Anchors cached under another anchor definition are made again from the pixels.
    other_set = _rewritten(good, anchor_set="strongest64-" + FEATURE_SETTINGS)
    loads: list[int] = []
    features = PictureFeatures.from_bytes(other_set, lambda: loads.append(1) or church[0])
    assert not loads
    np.testing.assert_array_equal(
        anchor_descriptors(features), anchor_descriptors(PictureFeatures(church[0]))
    )
    assert loads == [1]
    # Pixels that do not fit the cached features (another picture) are refused when loaded.
    wrong = PictureFeatures.from_bytes(good, lambda: church[0][:100, :100])
    with pytest.raises(InvalidValueError):
        _ = wrong.gray


@pytest.mark.parametrize("shape", [(1, 1), (3, 3), (1, 500), (500, 2), (62, 400)])
def test_tiny_pictures_have_no_corners_and_no_error(shape: tuple[int, int]) -> None:
    """ORB's pyramid fails below 4 px and finds nothing within 31 px of a border: features and
    anchors of such pictures are empty, not an OpenCV error."""
    rng = np.random.default_rng(1)
    picture = PictureFeatures((rng.random((*shape, 3)) * 255).astype(np.uint8))
    assert len(picture.points) == 0 and picture.descriptors is None
    assert anchor_descriptors(picture).shape == (0, 32)
    other = PictureFeatures((rng.random((300, 400, 3)) * 255).astype(np.uint8))
    assert not align_pictures(other, picture).is_same


def _ranks_by_loop(groups: np.ndarray) -> np.ndarray:
    """The per-corner loop `_spread_strongest` used before it was vectorised."""
    rank = np.zeros(len(groups), int)
    seen: dict[int, int] = {}
    for r, c in enumerate(groups):
        rank[r] = seen.get(int(c), 0)
        seen[int(c)] = rank[r] + 1
    return rank


@given(st.lists(st.integers(0, ANCHOR_GRID * ANCHOR_GRID - 1), max_size=300))
def test_rank_within_groups_is_the_loop_it_replaced(groups: list[int]) -> None:
    arr = np.array(groups, np.int64)
    np.testing.assert_array_equal(_rank_within_groups(arr), _ranks_by_loop(arr))


def test_anchors_are_those_the_per_corner_loop_chose(church):
    """Anchors stored in workspaces must not change: the vectorised choice picks the very
    descriptors, in the same order, as the loop did (on real photos and their mirrors)."""
    for image in church:
        features = PictureFeatures(image)
        for f in (features, features.mirror()):
            order = np.argsort(-f.responses, kind="stable")
            h, w = f.shape
            pts = f.points[order].astype(np.float64)
            col = np.minimum((pts[:, 0] * ANCHOR_GRID / w).astype(int), ANCHOR_GRID - 1)
            row = np.minimum((pts[:, 1] * ANCHOR_GRID / h).astype(int), ANCHOR_GRID - 1)
            taken = _ranks_by_loop(row * ANCHOR_GRID + col) < ANCHORS_PER_CELL
            count = ANCHOR_COUNT // len(ANCHOR_SCALES)
            rest = np.flatnonzero(~taken)[: max(0, count - int(taken.sum()))]
            chosen = np.sort(np.concatenate([np.flatnonzero(taken), rest]))[:count]
            assert f.descriptors is not None
            expected = f.descriptors[order[chosen]]
            np.testing.assert_array_equal(anchor_descriptors(f)[:count], expected)


def test_corner_positions_are_the_keypoints_own(church):
    """Positions converted in one call are each keypoint's `pt`, bit for bit."""
    for image in church:
        features = PictureFeatures(image)
        keypoints = cv2.ORB_create(nfeatures=1000).detectAndCompute(features.gray, None)[0]
        expected = np.array([k.pt for k in keypoints], np.float32).reshape(-1, 2)
        assert features.points.dtype == np.float32
        np.testing.assert_array_equal(features.points, expected)
    flat = PictureFeatures(np.full((100, 100), 7, np.uint8))
    assert flat.points.shape == (0, 2) and flat.points.dtype == np.float32


def test_kept_query_gradients_never_serve_another_picture(church):
    # The last query's gradients are reused while it is aligned with its candidates; aligning
    # another query in between must give exactly what a fresh alignment gives.
    from verify import samepicture

    a = PictureFeatures(church[0])
    copy = PictureFeatures(_reencode(church[0]))
    other = PictureFeatures(church[1])
    first = align_pictures(a, copy)
    samepicture._last_gradients.entry = None
    fresh_other = align_pictures(other, copy)
    samepicture._last_gradients.entry = None
    fresh_first = align_pictures(a, copy)
    assert align_pictures(a, copy) == fresh_first == first
    assert align_pictures(other, copy) == fresh_other
    assert align_pictures(a, copy) == first
