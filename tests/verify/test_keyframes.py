"""Tests for verify/keyframes.py: shots are covered, stills find their keyframes, static video
keeps one keyframe."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from tests.verify.test_video import write_video
from verify.errors import InvalidValueError
from verify.hashing import compare, hash_file
from verify.keyframes import extract_keyframes
from verify.media import load_image


def _fit(rgb: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    return cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)


@pytest.fixture(scope="module")
def shots(sites_dir: Path) -> list[Path]:
    return [
        sites_dir / "london_bridge" / "london_bridge_94185272_3874562886.jpg",
        sites_dir / "ettlingen_castle" / "0000.jpg",
        sites_dir / "united_states_capitol" / "united_states_capitol_98169888_3347710852.jpg",
    ]


@pytest.fixture(scope="module")
def three_shot_video(tmp_path_factory, shots: list[Path]) -> Path:
    # Three 1.5 s shots at 10 fps, each a slow zoom into one photo (so frames within a shot differ).
    frames = []
    for path in shots:
        rgb = load_image(path, max_side=480)
        h, w = rgb.shape[:2]
        for k in range(15):
            m = round(k * 0.002 * w)
            frames.append(_fit(rgb[m : h - m, m : w - m], (320, 240)))
    return write_video(tmp_path_factory.mktemp("kf") / "shots.mp4", frames, 10.0)


def test_every_shot_gets_a_keyframe(three_shot_video: Path):
    keyframes = extract_keyframes(three_shot_video)
    assert sorted({k.shot for k in keyframes}) == [0, 1, 2]
    starts = {k.shot: k.time for k in keyframes}
    assert starts[1] == pytest.approx(1.5, abs=0.25)
    assert starts[2] == pytest.approx(3.0, abs=0.25)
    assert all(max(k.image.shape[:2]) <= 640 for k in keyframes)
    assert [k.time for k in keyframes] == sorted(k.time for k in keyframes)


def test_a_still_finds_its_keyframe(three_shot_video: Path, shots: list[Path], sites_dir: Path):
    keyframes = extract_keyframes(three_shot_video)
    for shot, path in enumerate(shots):
        still = hash_file(path)
        matching = [k for k in keyframes if compare(still, k.hashes).is_match]
        assert matching and all(k.shot == shot for k in matching), path.name
    piazza = sites_dir / "piazza_san_marco"
    unrelated = hash_file(piazza / "piazza_san_marco_06795901_3725050516.jpg")
    assert not any(compare(unrelated, k.hashes).is_match for k in keyframes)


def test_long_static_video_keeps_one_keyframe(tmp_path: Path, sites_dir: Path):
    # Ten minutes at 2 fps, 96x64, with sensor noise: 1200 frames of one picture.
    base = _fit(load_image(sites_dir / "herz_jesu_church" / "0000.jpg", max_side=200), (96, 64))
    rng = np.random.default_rng(0)
    frames = [
        np.clip(base.astype(np.int16) + rng.integers(-3, 4, base.shape), 0, 255).astype(np.uint8)
        for _ in range(1200)
    ]
    video = write_video(tmp_path / "static.mp4", frames, 2.0)
    keyframes = extract_keyframes(video)
    assert len(keyframes) == 1
    assert keyframes[0].frame_index == 0


def test_bad_arguments_are_refused(three_shot_video: Path):
    with pytest.raises(InvalidValueError):
        extract_keyframes(three_shot_video, analysis_fps=0)
