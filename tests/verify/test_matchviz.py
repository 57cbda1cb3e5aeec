"""Tests for verify.matchviz: the side-by-side match picture."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from tests.verify.test_features import texture
from verify.errors import InvalidValueError
from verify.features import extract_features
from verify.geometry import match_pair
from verify.matchviz import CAPTION_HEIGHT, draw_matches, encode_jpeg


@pytest.fixture(scope="module")
def pair():
    a = texture(31, (600, 800))
    b = cv2.resize(a, (400, 300), interpolation=cv2.INTER_AREA)
    return a, b, match_pair(extract_features(a), extract_features(b))


def test_picture_is_side_by_side_rgb_within_max_side(pair):
    a, b, m = pair
    pic = draw_matches(a, b, m, max_side=500, caption="test")
    assert pic.dtype == np.uint8 and pic.ndim == 3 and pic.shape[2] == 3
    assert pic.shape[1] <= 500
    plain = draw_matches(a, b, m, max_side=500)
    assert pic.shape[0] == plain.shape[0] + CAPTION_HEIGHT


def test_lines_are_drawn_only_when_there_are_inliers(pair):
    a, b, m = pair
    with_lines = draw_matches(a, b, m, max_lines=50)
    without = draw_matches(a, b, m, max_lines=0)
    assert with_lines.shape == without.shape
    assert np.count_nonzero(np.any(with_lines != without, axis=2)) > 500


def test_points_rescale_to_a_smaller_decode(pair):
    # Drawing from a half-size decode of A gives the same picture geometry as the full one.
    a, b, m = pair
    half = cv2.resize(a, (400, 300), interpolation=cv2.INTER_AREA)
    assert draw_matches(half, b, m).shape == draw_matches(a, b, m).shape


def test_jpeg_round_trip_and_bad_input(pair):
    a, b, m = pair
    data = encode_jpeg(draw_matches(a, b, m), 80)
    assert data[:3] == b"\xff\xd8\xff"
    decoded = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    assert decoded is not None and decoded.shape[2] == 3
    with pytest.raises(InvalidValueError):
        encode_jpeg(a, 0)
    with pytest.raises(InvalidValueError):
        draw_matches(np.zeros((4, 4), np.float32), b, m)
