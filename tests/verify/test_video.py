"""Tests for verify/video.py: probing, frame iteration and refusal of bad files."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from verify.errors import InvalidValueError, UnreadableMediaError, UnsupportedMediaError
from verify.video import iter_frames, probe_video


def write_video(path: Path, frames: list[np.ndarray], fps: float) -> Path:
    """Encode RGB frames with OpenCV's MPEG-4 Part 2 writer (always available)."""
    h, w = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (w, h))
    assert writer.isOpened()
    for frame in frames:
        writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    writer.release()
    return path


@pytest.fixture(scope="module")
def small_video(tmp_path_factory, shared_data: Path) -> Path:
    frames = [
        cv2.resize(cv2.cvtColor(cv2.imread(str(p)), cv2.COLOR_BGR2RGB), (160, 120))
        for p in sorted((shared_data / "sequence").glob("*.png"))[:5]
    ]
    # 5 source frames x 6 repeats = 30 frames at 10 fps = 3 s.
    frames = [f for f in frames for _ in range(6)]
    return write_video(tmp_path_factory.mktemp("video") / "seq.mp4", frames, 10.0)


def test_probe_reads_declared_values(small_video: Path):
    info = probe_video(small_video)
    assert (info.width, info.height) == (160, 120)
    assert info.fps == pytest.approx(10.0)
    assert info.frame_count == 30
    assert info.duration == pytest.approx(3.0, abs=0.15)


def test_iter_frames_skips_and_scales(small_video: Path):
    frames = list(iter_frames(small_video, every_n=4, max_side=80))
    assert [f.index for f in frames] == list(range(0, 30, 4))
    assert [round(f.time, 2) for f in frames] == [round(i / 10, 2) for i in range(0, 30, 4)]
    assert all(f.image.shape == (60, 80, 3) and f.image.dtype == np.uint8 for f in frames)


def test_iter_frames_yields_every_frame_by_default(small_video: Path):
    assert sum(1 for _ in iter_frames(small_video)) == 30


def test_bad_files_raise_typed_errors(tmp_path: Path, small_video: Path, sites_dir: Path):
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    noise = tmp_path / "noise.mp4"
    noise.write_bytes(np.random.default_rng(1).integers(0, 256, 50_000, np.uint8).tobytes())
    truncated = tmp_path / "truncated.mp4"
    truncated.write_bytes(small_video.read_bytes()[:1500])
    for path in (empty, noise, truncated):
        with pytest.raises(UnreadableMediaError):
            probe_video(path)
        with pytest.raises(UnreadableMediaError):
            list(iter_frames(path))
    with pytest.raises(UnsupportedMediaError):
        probe_video(next(sites_dir.glob("*/*.jpg")))


def test_bad_arguments_are_refused(small_video: Path):
    with pytest.raises(InvalidValueError):
        list(iter_frames(small_video, every_n=0))
    with pytest.raises(InvalidValueError):
        list(iter_frames(small_video, max_side=2))


def test_declared_length_beyond_limits_is_refused(small_video: Path, monkeypatch):
    import verify.video as video
    from verify.errors import MediaTooLargeError

    monkeypatch.setattr(video, "MAX_VIDEO_FRAMES", 10)
    with pytest.raises(MediaTooLargeError):
        probe_video(small_video)
    monkeypatch.setattr(video, "MAX_VIDEO_FRAMES", 1000)
    monkeypatch.setattr(video, "MAX_VIDEO_SECONDS", 1)
    with pytest.raises(MediaTooLargeError):
        list(iter_frames(small_video))
