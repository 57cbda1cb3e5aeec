"""Keyframes of a video: one picture per shot and at least one every few seconds, each hashed.

Recycled footage is found by matching stills against these keyframes, so they must cover every
shot, yet a long static video must not keep thousands of copies of one picture: a candidate
keyframe that `compare` judges the same picture as the last kept one is dropped.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from verify.errors import InvalidValueError, MediaTooLargeError
from verify.hashing import ImageHashes, compare, hash_image
from verify.video import iter_frames, probe_video

# Frames examined per second for shot changes. Cuts are found at most 0.2 s late, and a 30 fps
# video needs only every 6th frame converted and compared.
ANALYSIS_FPS = 5.0
# Longest side of the kept keyframe images (stored as JPEG thumbnails by the caller).
THUMBNAIL_SIDE = 640
# A keyframe at least this often, even inside one shot: a slow pan changes the picture without
# any cut. Candidates that are the same picture as the last keyframe are dropped.
MAX_KEYFRAME_GAP_SECONDS = 2.0
# Hard cap on keyframes kept for one video (memory: 1000 thumbnails of 640x360 are ~700 MB at
# most). Long videos widen the sampling gap so that periodic samples alone stay under a third
# of it; only a video with more genuine shots than this is refused.
MAX_KEYFRAMES = 1000

# Shot change: mean absolute difference of 64x36 grayscale frames (0-255) above this.
# Calibrated by benchmarks/bench_keyframes.py on ../shared/data: between different photos the
# difference is >= 40 for 89% of pairs (the rest are photos of the same facade, which periodic
# sampling still covers); between consecutive hand-held frames of sequence/ taken 1 s apart it
# exceeds 40 for 4 of 16 pairs, and our frames are only 0.2 s apart. A spurious cut costs one
# candidate keyframe, which the hash comparison then drops if it is the same picture.
SHOT_CUT_MAD = 40.0
_SHOT_SIZE = (64, 36)


@dataclass(frozen=True)
class Keyframe:
    """A representative frame: where it is (frame index, seconds), its pixels (RGB, longest
    side at most the thumbnail side), its hashes, and which shot it belongs to (from 0)."""

    frame_index: int
    time: float
    image: np.ndarray
    hashes: ImageHashes
    shot: int


def extract_keyframes(
    path: Path,
    *,
    thumbnail_side: int = THUMBNAIL_SIDE,
    analysis_fps: float = ANALYSIS_FPS,
    max_gap_seconds: float = MAX_KEYFRAME_GAP_SECONDS,
    on_progress: Callable[[float, float], None] | None = None,
) -> list[Keyframe]:
    """The keyframes of a video in time order: the first frame of every shot and one every
    `max_gap_seconds` within a shot, minus those that are the same picture as the keyframe kept
    just before them. `on_progress(seconds_done, duration)` is called per analysed frame."""
    if analysis_fps <= 0 or max_gap_seconds <= 0 or thumbnail_side < 16:
        raise InvalidValueError("analysis_fps and max_gap_seconds must be > 0, thumbnail >= 16")
    info = probe_video(Path(path))
    every_n = max(1, round(info.fps / analysis_fps))
    gap = max(max_gap_seconds, 3 * info.duration / MAX_KEYFRAMES)
    keyframes: list[Keyframe] = []
    shot = 0
    previous_small: np.ndarray | None = None
    last_sampled = -np.inf
    for frame in iter_frames(path, every_n=every_n, max_side=thumbnail_side):
        if on_progress is not None:
            on_progress(frame.time, info.duration)
        small = _shot_signature(frame.image)
        is_cut = previous_small is not None and _shot_difference(previous_small, small) > (
            SHOT_CUT_MAD
        )
        previous_small = small
        if is_cut:
            shot += 1
        if not (is_cut or not keyframes or frame.time - last_sampled >= gap):
            continue
        last_sampled = frame.time
        hashes = hash_image(frame.image)
        if keyframes and compare(hashes, keyframes[-1].hashes).is_match:
            continue
        if len(keyframes) >= MAX_KEYFRAMES:
            raise MediaTooLargeError(
                f"video {Path(path).name} has more than {MAX_KEYFRAMES} distinct keyframes"
            )
        keyframes.append(Keyframe(frame.index, frame.time, frame.image, hashes, shot))
    return keyframes


def _shot_signature(rgb: np.ndarray) -> np.ndarray:
    gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    return cv2.resize(gray, _SHOT_SIZE, interpolation=cv2.INTER_AREA).astype(np.float32)


def _shot_difference(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a - b).mean())
