"""Tests for verify/samepicture.py: a cropped or rotated copy of a real photo aligns as the same
picture; another photo of the same building does not."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from verify.errors import InvalidValueError
from verify.hashing import HashDistances
from verify.media import load_image
from verify.samepicture import (
    ANCHOR_COUNT,
    CONFIRM_SIDE,
    align_pictures,
    anchor_descriptors,
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


def test_anchors_are_the_strongest_orb_codes(church):
    anchors = anchor_descriptors(church[0])
    assert anchors.shape == (ANCHOR_COUNT, 32) and anchors.dtype == np.uint8
    assert [bytes.fromhex(h) for h in anchors_to_hex(anchors)] == [r.tobytes() for r in anchors]
    assert anchor_descriptors(np.full((50, 50, 3), 9, np.uint8)).shape == (0, 32)
