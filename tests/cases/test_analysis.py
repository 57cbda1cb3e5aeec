"""Tests for cases.analysis: what ingest computes from a photo's bytes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from cases.analysis import analyse_file, anchors_of, path_pixels
from tests.verify.test_features import texture
from verify.hashing import HASH_WORKING_SIDE, hash_file
from verify.media import load_image_sizes
from verify.samepicture import CONFIRM_SIDE, PictureFeatures


def _photo(tmp_path: Path, name: str, size: tuple[int, int]) -> Path:
    gray = texture(31, size)
    rgb = np.stack([gray, np.roll(gray, 7, axis=0), np.roll(gray, 5, axis=1)], axis=2)
    path = tmp_path / name
    if name.endswith(".png"):
        Image.fromarray(rgb).save(path)
    else:
        Image.fromarray(rgb).save(path, "JPEG", quality=90)
    return path


@pytest.mark.parametrize(
    ("name", "size", "one_decode"),
    [
        ("screenshot.png", (600, 900), True),
        ("phone.jpg", (3024, 4032), True),  # 1/8 scale for both the hashes and the pixel check
        ("small.jpg", (480, 640), False),  # two different reduced scales: two decodes
    ],
)
def test_photo_hashes_and_features_are_those_of_two_separate_decodes(
    tmp_path, name, size, one_decode
):
    path = _photo(tmp_path, name, size)
    assert (load_image_sizes(path, HASH_WORKING_SIDE, CONFIRM_SIDE) is not None) == one_decode
    analysis = analyse_file(path, "image/png" if name.endswith(".png") else "image/jpeg", "photo")
    [frame] = analysis.frames
    features = PictureFeatures(path_pixels(path))
    assert frame.hashes == hash_file(path).as_dict() | anchors_of(features)
    assert frame.picture_features == features.to_bytes()
