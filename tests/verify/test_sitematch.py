"""Tests for verify.sitematch: the site decision rule, video aggregation, real photos."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.verify.test_features import texture
from verify.errors import InvalidValueError
from verify.features import extract_features, extract_features_from_file
from verify.geometry import match_pair
from verify.sitematch import (
    MARGIN_RATIO,
    MIN_INLIERS,
    FrameDecision,
    SiteOutcome,
    SiteScore,
    compare_with_sites,
    decide_site,
    decide_video,
    verdict_for,
)
from verify.verdict import Verdict


def decision(**scores: int):
    return decide_site([SiteScore(site, n, f"{site}-ref") for site, n in scores.items()])


def test_clear_winner_is_matched():
    d = decision(market=MIN_INLIERS * 4, other=3)
    assert d.matched_site == "market" and d.outcome is SiteOutcome.MATCHED
    assert d.scores == {"market": MIN_INLIERS * 4, "other": 3}
    assert d.best_reference == {"market": "market-ref", "other": "other-ref"}


def test_below_threshold_is_no_site():
    d = decision(market=MIN_INLIERS - 1, other=2)
    assert d.matched_site is None and d.outcome is SiteOutcome.NO_SITE
    assert f"no site reaches {MIN_INLIERS} inliers" in d.reason


def test_two_sites_above_threshold_are_ambiguous_even_with_a_big_ratio():
    d = decision(a=MIN_INLIERS * 10, b=MIN_INLIERS)
    assert d.matched_site is None and d.outcome is SiteOutcome.AMBIGUOUS
    assert "a" in d.reason and "b" in d.reason and "ambiguous" in d.reason


def test_runner_up_too_close_is_ambiguous():
    runner = MIN_INLIERS - 1
    d = decision(a=int(runner * MARGIN_RATIO) - 1, b=runner)
    assert d.matched_site is None and d.outcome is SiteOutcome.AMBIGUOUS


def test_site_keeps_its_best_reference():
    d = decide_site(
        [SiteScore("a", 5, "r1"), SiteScore("a", MIN_INLIERS * 3, "r2"), SiteScore("b", 0, None)]
    )
    assert d.matched_site == "a" and d.best_reference["a"] == "r2"
    assert d.best_reference["b"] is None


def test_no_sites_and_bad_values():
    assert decide_site([]).outcome is SiteOutcome.NO_SITE
    with pytest.raises(InvalidValueError):
        decide_site([SiteScore("a", -1)])
    with pytest.raises(InvalidValueError):
        decide_site([SiteScore("a", 1)], margin_ratio=0.5)


def test_verdicts():
    matched = decision(popular=200, al_hal=4)
    assert verdict_for(matched, "popular") is Verdict.CONSISTENT
    assert verdict_for(matched, "al_hal") is Verdict.MISMATCH
    assert verdict_for(decision(popular=3, al_hal=4), "popular") is Verdict.INCONCLUSIVE


def frame(i: int, **scores: int) -> FrameDecision:
    return FrameDecision(i, i * 0.5, decision(**scores))


def test_video_matches_one_site_and_reports_ranges():
    frames = [
        frame(0, a=80, b=2),
        frame(1, a=90, b=1),
        frame(2, a=3, b=2),  # nothing decided: breaks the run
        frame(3, a=120, b=4),
    ]
    v = decide_video(frames)
    assert v.matched_site == "a" and v.outcome is SiteOutcome.MATCHED
    assert v.scores == {"a": 120, "b": 4} and v.best_frame["a"] == 3
    assert [(r.site, r.start_frame, r.end_frame, r.best_inliers) for r in v.ranges] == [
        ("a", 0, 1, 90),
        ("a", 3, 3, 120),
    ]
    assert v.ranges[0].start_time == 0.0 and v.ranges[0].end_time == 0.5
    assert (v.decided_frames, v.total_frames) == (3, 4)
    assert verdict_for(v, "b") is Verdict.MISMATCH


def test_video_whose_frames_name_two_sites_is_conflicting():
    v = decide_video([frame(0, a=80, b=2), frame(5, a=2, b=100)])
    assert v.matched_site is None and v.outcome is SiteOutcome.CONFLICTING
    assert "a: frames 0" in v.reason and "b: frames 5" in v.reason
    assert [r.site for r in v.ranges] == ["a", "b"]
    assert verdict_for(v, "a") is Verdict.INCONCLUSIVE


def test_video_with_an_ambiguous_frame_pointing_elsewhere_is_conflicting():
    v = decide_video([frame(0, a=80, b=2), frame(1, b=MIN_INLIERS + 5, c=MIN_INLIERS + 1)])
    assert v.matched_site is None and v.outcome is SiteOutcome.CONFLICTING


def test_video_without_decided_frames():
    assert decide_video([frame(0, a=1), frame(1, a=2)]).outcome is SiteOutcome.NO_SITE
    assert decide_video([]).outcome is SiteOutcome.NO_SITE


def test_generated_scene_decides_its_own_site():
    scene = texture(21)
    warp = np.array([[0.95, 0.05, 20], [-0.04, 0.97, 10], [0, 0, 1]], float)
    footage = extract_features(cv2.warpPerspective(scene, warp, scene.shape[::-1]))
    refs = {
        "scene": [("s1", extract_features(scene))],
        "elsewhere": [("e1", extract_features(texture(22))), ("e2", extract_features(texture(23)))],
        "no imagery": [],
    }
    d, matches = compare_with_sites(footage, refs)
    assert d.matched_site == "scene"
    assert d.scores["scene"] >= 100 and d.scores["elsewhere"] < MIN_INLIERS
    assert d.scores["no imagery"] == 0 and "no imagery" not in matches
    assert matches["scene"].inliers == d.scores["scene"]


SAN_MARCO = "piazza_san_marco/piazza_san_marco_{}.jpg"


@pytest.fixture(scope="module")
def real(sites_dir):
    names = {
        "sm_a": SAN_MARCO.format("15148634_5228701572"),
        "sm_b": SAN_MARCO.format("43351518_2659980686"),
        "sm_c": SAN_MARCO.format("58751010_4849458397"),
        "lb": "london_bridge/london_bridge_78916675_4568141288.jpg",
        "hj": "herz_jesu_church/0003.jpg",
    }
    return {k: extract_features_from_file(sites_dir / v) for k, v in names.items()}


def test_two_san_marco_photos_match_above_threshold(real):
    m = match_pair(real["sm_a"], real["sm_b"])
    assert m.inliers >= MIN_INLIERS
    assert match_pair(real["sm_a"], real["sm_b"]).inliers == m.inliers  # deterministic


def test_san_marco_vs_other_places_stays_below_threshold(real):
    assert match_pair(real["sm_a"], real["lb"]).inliers < MIN_INLIERS
    assert match_pair(real["sm_a"], real["hj"]).inliers < MIN_INLIERS


def test_real_photo_gets_its_site_and_never_the_other(real):
    refs = {
        "san marco": [("sm_b", real["sm_b"]), ("sm_c", real["sm_c"])],
        "london bridge": [("lb", real["lb"])],
        "herz jesu": [("hj", real["hj"])],
    }
    d, _ = compare_with_sites(real["sm_a"], refs)
    assert d.matched_site == "san marco"
    assert verdict_for(d, "london bridge") is Verdict.MISMATCH
    del refs["san marco"]
    d, _ = compare_with_sites(real["sm_a"], refs)
    assert d.matched_site is None  # true site left out: no site, never a wrong one


@given(st.dictionaries(st.sampled_from("abcdef"), st.integers(0, 500), max_size=6))
def test_decision_invariants(scores):
    d = decide_site([SiteScore(s, n) for s, n in scores.items()])
    above = [s for s, n in scores.items() if n >= MIN_INLIERS]
    if d.matched_site is not None:
        # Only ever the single site above threshold, clearly ahead of every other site.
        assert above == [d.matched_site]
        assert all(
            scores[d.matched_site] >= MARGIN_RATIO * n
            for s, n in scores.items()
            if s != d.matched_site
        )
    else:
        assert d.outcome in (SiteOutcome.NO_SITE, SiteOutcome.AMBIGUOUS)
        assert len(above) != 1 or d.outcome is SiteOutcome.AMBIGUOUS
