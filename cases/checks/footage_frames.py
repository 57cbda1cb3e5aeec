"""The pictures site matching works on: one per photo, the keyframes of each video, and their
local features, cached in the derived store per (blob, frame, feature settings).

A video's keyframe list is cached too, so a re-run whose features are all cached never decodes
the video again; the pictures themselves are decoded only to draw match pictures.
"""

from __future__ import annotations

import hashlib
import json
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from cases.checks.base import CheckContext
from cases.originals import naming
from cases.snapshot import ItemInfo
from verify.errors import InvalidValueError
from verify.features import (
    DEFAULT_MAX_FEATURES,
    DEFAULT_MAX_SIDE,
    DEFAULT_METHOD,
    Features,
    extract_features,
    settings_key,
)
from verify.geometry import MATCHER_KEY
from verify.keyframes import extract_keyframes
from verify.media import load_image
from verify.retrieval import (
    DEFAULT_WORDS,
    KMEANS_ITERATIONS,
    TRAINING_SAMPLE,
    Vocabulary,
    global_descriptors,
    train_vocabulary,
)

FEATURE_KEY = settings_key(DEFAULT_METHOD, DEFAULT_MAX_SIDE, DEFAULT_MAX_FEATURES)
# Cached verified pairs and the manifests of what was compared depend on the features and on the
# matcher: after a change of either, everything is compared again rather than mixed.
PAIR_KEY = f"{FEATURE_KEY}-{MATCHER_KEY}"
_KEYFRAME_INDEX = "keyframes.json"
VOCABULARY_NAMESPACE = "vocabularies"
_VOCABULARY_NAME = "vocabulary.npz"
# Decoded items kept for drawing match pictures: hops of one chain usually revisit the same
# video, and a video's keyframes are decoded all at once.
_IMAGE_MEMO_ITEMS = 4


@dataclass(frozen=True, eq=False)
class FrameFeatures:
    """One picture of an item (a photo, or keyframe `index` of a video) and its features."""

    item: ItemInfo
    index: int
    time_s: float
    features: Features

    @property
    def node(self) -> str:
        """How findings name this picture: the item code, with `@frame` for a video keyframe."""
        return f"{self.item.code}@{self.index}" if self.item.kind == "video" else self.item.code

    @property
    def key(self) -> tuple[str, int]:
        """What identifies the picture's bytes whatever case or item code it has."""
        return (self.item.sha256, self.index)


def _feature_name(index: int) -> str:
    return f"{FEATURE_KEY}-{index:08d}.npz"


def _decode(item: ItemInfo) -> list[tuple[int, float, np.ndarray]]:
    with naming(item.path, item.code):
        if item.kind == "video":
            return [(k.frame_index, k.time, k.image) for k in extract_keyframes(item.path)]
        return [(0, 0.0, load_image(item.path, max_side=DEFAULT_MAX_SIDE))]


def _cached(ctx: CheckContext, item: ItemInfo) -> list[FrameFeatures] | None:
    derived = ctx.ws.derived
    if item.kind == "video":
        raw = derived.read("features", item.sha256, _KEYFRAME_INDEX)
        if raw is None:
            return None
        frames = [(int(i), float(t)) for i, t in json.loads(raw)]
    else:
        frames = [(0, 0.0)]
    out = []
    for index, time_s in frames:
        blob = derived.read("features", item.sha256, _feature_name(index))
        if blob is None:
            return None
        try:
            features = Features.from_bytes(blob)
        except InvalidValueError:
            # A damaged cache entry is a miss (computed again and rewritten), not a picture
            # that cannot be decoded: the original is intact.
            return None
        out.append(FrameFeatures(item, index, time_s, features))
    return out


def frame_features(ctx: CheckContext, item: ItemInfo) -> list[FrameFeatures]:
    """Features of each picture of `item`, from the cache or computed and cached.

    Raises `VerifyError` when the item cannot be decoded.
    """
    cached = _cached(ctx, item)
    if cached is not None:
        return cached
    out = []
    for index, time_s, image in _decode(item):
        feats = extract_features(image)
        ctx.ws.derived.write("features", item.sha256, _feature_name(index), feats.to_bytes())
        out.append(FrameFeatures(item, index, time_s, feats))
    if item.kind == "video":
        index_json = json.dumps([[f.index, f.time_s] for f in out]).encode()
        ctx.ws.derived.write("features", item.sha256, _KEYFRAME_INDEX, index_json)
    return out


class FrameImages:
    """Decoded pictures for match pictures, decoding each item once while it is in use."""

    def __init__(self) -> None:
        self._memo: OrderedDict[str, dict[int, np.ndarray]] = OrderedDict()

    def get(self, frame: FrameFeatures) -> np.ndarray | None:
        """The picture of `frame`, or None if the item no longer decodes to that keyframe."""
        sha = frame.item.sha256
        if sha not in self._memo:
            self._memo[sha] = {index: image for index, _, image in _decode(frame.item)}
            while len(self._memo) > _IMAGE_MEMO_ITEMS:
                self._memo.popitem(last=False)
        self._memo.move_to_end(sha)
        return self._memo[sha].get(frame.index)


class FrameDescriptors:
    """Each picture's global descriptor (VLAD) under one vocabulary, computed once per run: the
    reference shortlist and the footage link search rank the same pictures, and computing them
    twice was ~20% of a no-change re-run of a few hundred photos."""

    def __init__(self, vocabulary: Vocabulary) -> None:
        self.vocabulary = vocabulary
        self._rows: dict[str, np.ndarray] = {}

    def of(self, frames: Sequence[FrameFeatures]) -> np.ndarray:
        """`global_descriptors(vocabulary, ...)` of the frames' descriptors, stacked in order."""
        missing = {f.node: f for f in frames if f.node not in self._rows}
        rows = global_descriptors(
            self.vocabulary, [f.features.descriptors for f in missing.values()]
        )
        self._rows.update(zip(missing, rows, strict=True))
        if not frames:
            return np.zeros((0, self.vocabulary.dimension), np.float32)
        return np.stack([self._rows[f.node] for f in frames])


def case_vocabulary(ctx: CheckContext, frames: Sequence[FrameFeatures]) -> Vocabulary:
    """`train_vocabulary` of the frames' descriptors (seed 0), kept in the derived store under a
    digest of the frames in order (blob, frame, feature settings: what their cached descriptors
    are made from) and the training settings. A re-run with the same pictures reads the same
    centroids back instead of running k-means again (~10% of a no-change re-run of a few
    hundred photos). Raises `InvalidValueError` when no frame has descriptors."""
    settings = [FEATURE_KEY, DEFAULT_WORDS, TRAINING_SAMPLE, KMEANS_ITERATIONS, cv2.__version__]
    pictures = [[f.item.sha256, f.index, len(f.features)] for f in frames]
    key = hashlib.sha256(json.dumps([settings, pictures]).encode()).hexdigest()
    raw = ctx.ws.derived.read(VOCABULARY_NAMESPACE, key, _VOCABULARY_NAME)
    if raw is not None:
        try:
            return Vocabulary.from_bytes(raw)
        except InvalidValueError:
            pass  # a damaged entry: trained again and rewritten
    vocabulary = train_vocabulary([f.features.descriptors for f in frames], seed=0)
    ctx.ws.derived.write(VOCABULARY_NAMESPACE, key, _VOCABULARY_NAME, vocabulary.to_bytes())
    return vocabulary
