"""A stored picture's pixels and ORB features, read from the originals and the derived store
alone: the same-picture search reads them in this process (`cases.search.workspace_pixels`) and
in worker processes (`cases.align_workers`), which have no database and import little."""

from __future__ import annotations

import contextlib
import functools
from typing import Protocol

import cv2
import numpy as np

from cases.analysis import PICTURE_FEATURES_NAMESPACE, picture_features_name
from cases.originals import naming
from evidence_store.blobs import BlobStore, DerivedStore
from evidence_store.errors import BlobError
from verify.errors import InvalidValueError, UnreadableMediaError, VerifyError
from verify.media import load_image
from verify.samepicture import CONFIRM_SIDE, PictureFeatures


class OriginalsState(Protocol):
    """What reading a stored picture needs of `cases.originals.OriginalsCheck`."""

    def intact(self, sha256: str) -> bool: ...

    def problem(self, sha256: str) -> str | None: ...


def stored_features(
    blobs: BlobStore,
    derived: DerivedStore,
    originals: OriginalsState | None,
    sha256: str,
    kind: str,
    frame_index: int,
    *,
    write: bool,
) -> PictureFeatures | None:
    """One stored frame's features, its pixels loaded on first use: read from the derived
    store, else made from its pixels (and written there when `write`). None when the picture
    cannot be had. With `originals`, a photo whose original no longer matches its SHA-256 has
    no pixels."""
    name = picture_features_name(frame_index)
    pixels = functools.partial(stored_picture, blobs, derived, originals, sha256, kind, frame_index)
    cached = derived.read(PICTURE_FEATURES_NAMESPACE, sha256, name)
    if cached is not None:
        try:
            return PictureFeatures.from_bytes(cached, pixels)
        except InvalidValueError:
            pass  # a damaged cache entry: recomputed (and rewritten) below
    try:
        features = PictureFeatures(pixels())
    except VerifyError:
        return None
    if write:
        # The cache only saves time: if it cannot be written, the next call recomputes.
        with contextlib.suppress(BlobError):
            derived.write(PICTURE_FEATURES_NAMESPACE, sha256, name, features.to_bytes())
    return features


def stored_picture(
    blobs: BlobStore,
    derived: DerivedStore,
    originals: OriginalsState | None,
    sha256: str,
    kind: str,
    frame_index: int,
) -> np.ndarray:
    """A stored frame's pixels at the pixel check's working size (raises VerifyError)."""
    if kind != "video":
        if originals is not None and not originals.intact(sha256):
            raise UnreadableMediaError(
                f"the original with SHA-256 {sha256} no longer matches it "
                f"({originals.problem(sha256)})"
            )
        path = blobs.path(sha256)
        with naming(path, f"the original with SHA-256 {sha256}"):
            return load_image(path, max_side=CONFIRM_SIDE)
    data = derived.read("keyframes", sha256, f"{frame_index:08d}.jpg")
    bgr = None if data is None else cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if bgr is None:
        raise UnreadableMediaError(f"keyframe {frame_index} of SHA-256 {sha256} is not available")
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
