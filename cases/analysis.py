"""What is computed from an item's bytes at ingest: metadata, perceptual hashes, keyframes.

All of it is a pure function of the bytes, so it is computed once, outside any transaction,
and stored with the item. A file that cannot be analysed still ingests: the original is the
evidence, and the metadata records what could not be read and why.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from cases.originals import relabel
from verify.errors import VerifyError
from verify.hashing import HASH_WORKING_SIDE, hash_file, hash_image
from verify.keyframes import extract_keyframes
from verify.media import IMAGE_TYPES, VIDEO_TYPES, load_image, load_image_sizes
from verify.metadata import extract_metadata
from verify.samepicture import (
    ANCHOR_SET,
    CONFIRM_SIDE,
    FEATURE_SETTINGS,
    PictureFeatures,
    anchor_descriptors,
    anchors_to_hex,
)

# Key of a frame's ORB anchors inside its stored `hashes` JSON (beside the perceptual hashes),
# and of the anchor definition they were made under (`verify.samepicture.ANCHOR_SET`): anchors
# stored under another definition (or none: workspaces made before it was recorded) are never
# compared with current ones.
ANCHORS_KEY = "anchors"
ANCHOR_SET_KEY = "anchor_set"
# Derived-store namespace of each frame's ORB features for the pixel check (rebuildable cache,
# named per `verify.samepicture.FEATURE_SETTINGS`).
PICTURE_FEATURES_NAMESPACE = "picture-features"


def picture_features_name(frame_index: int) -> str:
    """File name of a frame's cached ORB features under its blob in the derived store."""
    return f"{FEATURE_SETTINGS}-{frame_index:08d}.npz"


@dataclass(frozen=True)
class FrameAnalysis:
    index: int
    time_s: float | None
    hashes: dict[str, Any]
    thumbnail_jpeg: bytes | None = None
    # The frame's ORB features (`PictureFeatures.to_bytes`), cached in the derived store so that
    # searches need not recompute them.
    picture_features: bytes | None = None


@dataclass(frozen=True)
class FileAnalysis:
    metadata: dict[str, Any]
    frames: list[FrameAnalysis] = field(default_factory=list)


# Keyframe thumbnails are for an investigator to look at and for hashes to be recomputed from;
# quality 85 keeps them visually faithful at about a tenth of the PNG size.
THUMBNAIL_JPEG_QUALITY = 85

# `(seconds decoded, video duration)`, called while a video's keyframes are extracted.
VideoProgress = Callable[[float, float], None]


def analyse_file(
    path: Path,
    media_type: str,
    kind: str,
    on_video_progress: VideoProgress | None = None,
    *,
    label: str | None = None,
) -> FileAnalysis:
    """Metadata, hashes and keyframes of the file at `path`. Problems found are recorded with
    `label` (the name an investigator knows the file by) wherever they name the file, never
    the path it is read from: a stored original's path is internal, and its last part is a
    clipped SHA-256."""
    analysis = _analyse(path, media_type, kind, on_video_progress)
    if label is not None and "problems" in analysis.metadata:
        analysis.metadata["problems"] = [
            relabel(str(p), path, label) for p in analysis.metadata["problems"]
        ]
    return analysis


def _analyse(
    path: Path, media_type: str, kind: str, on_video_progress: VideoProgress | None
) -> FileAnalysis:
    metadata: dict[str, Any] = {"media_type": media_type, "problems": []}
    frames: list[FrameAnalysis] = []
    if media_type in IMAGE_TYPES or media_type in VIDEO_TYPES:
        try:
            metadata = extract_metadata(path).to_dict()
        except VerifyError as exc:
            metadata["problems"].append(f"metadata: {exc}")
    if media_type in IMAGE_TYPES:
        try:
            hashes, features = _photo_hashes_and_features(path)
            frames.append(
                FrameAnalysis(0, None, hashes | anchors_of(features), None, features.to_bytes())
            )
        except VerifyError as exc:
            metadata.setdefault("problems", []).append(f"perceptual hashes: {exc}")
    if media_type in VIDEO_TYPES:
        try:
            frames = video_keyframes(path, on_video_progress)
        except VerifyError as exc:
            # The video is still evidence: it ingests, and the reason it has no keyframes is
            # recorded beside its metadata.
            metadata.setdefault("problems", []).append(f"keyframes: {exc}")
        metadata["keyframes"] = len(frames)
    return FileAnalysis(metadata=metadata, frames=frames)


def video_keyframes(path: Path, on_progress: VideoProgress | None = None) -> list[FrameAnalysis]:
    """The keyframes of a video as frames to store: index, time, hashes and a JPEG thumbnail."""
    frames = []
    for k in extract_keyframes(path, on_progress=on_progress):
        features = PictureFeatures(k.image)
        frames.append(
            FrameAnalysis(
                k.frame_index,
                k.time,
                k.hashes.as_dict() | anchors_of(features),
                encode_thumbnail(k.image),
                features.to_bytes(),
            )
        )
    return frames


def path_pixels(path: Path) -> np.ndarray:
    return load_image(path, max_side=CONFIRM_SIDE)


def _photo_hashes_and_features(path: Path) -> tuple[dict[str, Any], PictureFeatures]:
    """A photo's hashes and pixel-check features, from one decode when both decode it alike
    (a phone's 12 MP JPEG, a PNG screenshot: the second decode was the same work again), else
    from one decode each. The same values either way (`hash_file` is `hash_image` of that
    decode)."""
    both = load_image_sizes(path, HASH_WORKING_SIDE, CONFIRM_SIDE)
    if both is None:
        return hash_file(path).as_dict(), PictureFeatures(path_pixels(path))
    small, working = both
    return hash_image(small).as_dict(), PictureFeatures(working)


def anchors_of(image: np.ndarray | PictureFeatures) -> dict[str, Any]:
    """The picture's ORB anchors and their definition, stored beside its hashes (see
    verify.samepicture)."""
    return {ANCHORS_KEY: anchors_to_hex(anchor_descriptors(image)), ANCHOR_SET_KEY: ANCHOR_SET}


def encode_thumbnail(rgb: np.ndarray) -> bytes:
    bgr = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
    ok, data = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, THUMBNAIL_JPEG_QUALITY])
    if not ok:
        raise VerifyError("cannot encode a keyframe thumbnail as JPEG")
    return bytes(data)


def analyse_statement(text: str, encoding: str) -> FileAnalysis:
    return FileAnalysis(
        metadata={
            "media_type": "text/plain",
            "encoding": encoding,
            "characters": len(text),
            "problems": [],
        }
    )
