"""Tests for verify.geometry: matching and geometric verification."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from tests.verify.test_features import texture
from verify.errors import InvalidValueError
from verify.features import METHOD_ORB, extract_features
from verify.geometry import GeometryModel, match_pair

H = np.array([[0.9, 0.08, 30.0], [-0.05, 0.95, 20.0], [1e-4, 5e-5, 1.0]])


def warped_pair(seed: int) -> tuple[np.ndarray, np.ndarray]:
    img = texture(seed)
    return img, cv2.warpPerspective(img, H, (img.shape[1], img.shape[0]))


@pytest.mark.parametrize("method", ["rootsift", METHOD_ORB])
def test_homography_warp_matches_with_many_inliers(method):
    a, b = warped_pair(10)
    m = match_pair(extract_features(a, method=method), extract_features(b, method=method))
    assert m.inliers >= 100
    assert m.model is GeometryModel.HOMOGRAPHY
    # The inliers really follow the warp.
    proj = cv2.perspectiveTransform(m.points_a.reshape(-1, 1, 2).astype(np.float64), H)
    err = np.linalg.norm(proj.reshape(-1, 2) - m.points_b, axis=1)
    assert np.median(err) < 2.0


def test_unrelated_textures_do_not_match():
    m = match_pair(extract_features(texture(11)), extract_features(texture(12)))
    assert m.inliers < 15


def test_same_inputs_give_same_result():
    a, b = warped_pair(13)
    fa, fb = extract_features(a), extract_features(b)
    first, second = match_pair(fa, fb), match_pair(fa, fb)
    assert first.inliers == second.inliers and first.tentative == second.tentative
    np.testing.assert_array_equal(first.points_a, second.points_a)


def test_degenerate_inputs_give_no_match():
    blank = extract_features(np.zeros((200, 200), np.uint8))
    rich = extract_features(texture(14))
    for a, b in [(blank, rich), (rich, blank), (blank, blank)]:
        m = match_pair(a, b)
        assert m.inliers == 0 and m.model is GeometryModel.NONE
        assert m.points_a.shape == (0, 2)


def test_methods_cannot_be_mixed():
    img = texture(15)
    with pytest.raises(InvalidValueError):
        match_pair(extract_features(img), extract_features(img, method=METHOD_ORB))


def test_scaled_copy_matches_in_original_coordinates():
    img = texture(16, (600, 800))
    small = cv2.resize(img, (400, 300), interpolation=cv2.INTER_AREA)
    m = match_pair(extract_features(img), extract_features(small))
    assert m.inliers >= 50
    np.testing.assert_allclose(m.points_a / 2.0, m.points_b, atol=2.0)


def test_min_inliers_skips_the_fit_only_below_the_tentative_count():
    # Link search asks only "at least N inliers?": with fewer tentative matches than N the
    # answer is no without fitting (inliers are a subset of tentative matches).
    a, b = warped_pair(16)
    fa, fb = extract_features(a), extract_features(b)
    full = match_pair(fa, fb)
    assert full.tentative > 40 and full.model is not GeometryModel.NOT_FITTED
    # A threshold at or below the tentative count changes nothing: the same fit, same count.
    same = match_pair(fa, fb, min_inliers=full.tentative)
    assert (same.inliers, same.model) == (full.inliers, full.model)
    np.testing.assert_array_equal(same.points_a, full.points_a)
    skipped = match_pair(fa, fb, min_inliers=full.tentative + 1)
    assert skipped.model is GeometryModel.NOT_FITTED
    assert skipped.inliers == 0 and skipped.tentative == full.tentative
    assert skipped.points_a.shape == (0, 2)
