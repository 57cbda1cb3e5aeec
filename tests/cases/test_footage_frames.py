"""FrameDescriptors: each picture's global descriptor computed once per run, exactly what
`global_descriptors` gives for any subset and order of the pictures; the case vocabulary
trained once per set of pictures and read back exactly."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
from PIL import Image

import cases.checks.footage_frames as footage_frames
from cases.checks.footage_frames import (
    VOCABULARY_NAMESPACE,
    FrameDescriptors,
    FrameFeatures,
    case_vocabulary,
    frame_features,
)
from evidence_store.blobs import DerivedStore
from tests.verify.test_features import texture
from verify.features import Features
from verify.retrieval import global_descriptors, train_vocabulary


def _frame(code: str, descriptors: np.ndarray) -> FrameFeatures:
    item = SimpleNamespace(code=code, kind="photo", sha256=code * 8)
    n = len(descriptors)
    zeros = np.zeros(n, np.float32)
    features = Features(
        "rootsift", np.zeros((n, 2), np.float32), descriptors, (640, 480), 1.0, zeros, zeros
    )
    return FrameFeatures(item, 0, 0.0, features)  # type: ignore[arg-type]


def test_descriptors_are_computed_once_and_equal_global_descriptors(monkeypatch):
    rng = np.random.default_rng(1)
    sets = [rng.random((n, 128)).astype(np.float32) for n in (40, 0, 25, 60)]
    frames = [_frame(f"E-{k}", d) for k, d in enumerate(sets)]
    vocabulary = train_vocabulary([d for d in sets if len(d)], words=8, seed=0)
    described = FrameDescriptors(vocabulary)
    calls: list[int] = []
    real = footage_frames.global_descriptors

    def counting(vocab, descriptor_sets):  # type: ignore[no-untyped-def]
        calls.append(len(descriptor_sets))
        return real(vocab, descriptor_sets)

    monkeypatch.setattr(footage_frames, "global_descriptors", counting)
    subset = [frames[2], frames[0]]
    for chosen in (subset, frames, frames[::-1], []):
        expected = global_descriptors(vocabulary, [f.features.descriptors for f in chosen])
        got = described.of(chosen)
        assert got.dtype == expected.dtype and got.shape == expected.shape
        assert got.tobytes() == expected.tobytes()
    assert sum(calls) == len(frames)  # each picture described once


def test_case_vocabulary_is_trained_once_per_set_of_pictures(tmp_path, monkeypatch):
    rng = np.random.default_rng(2)
    frames = [_frame(f"E-{k}", rng.random((50, 128)).astype(np.float32)) for k in range(3)]
    ctx = SimpleNamespace(ws=SimpleNamespace(derived=DerivedStore(tmp_path)))
    trained: list[int] = []
    real = footage_frames.train_vocabulary

    def counting(sets, **kwargs):  # type: ignore[no-untyped-def]
        trained.append(len(sets))
        return real(sets, **kwargs)

    monkeypatch.setattr(footage_frames, "train_vocabulary", counting)
    expected = train_vocabulary([f.features.descriptors for f in frames], seed=0)
    first = case_vocabulary(ctx, frames)  # type: ignore[arg-type]
    again = case_vocabulary(ctx, frames)  # type: ignore[arg-type]
    assert trained == [3]
    for got in (first, again):
        assert got.centroids.dtype == np.float32
        assert got.centroids.tobytes() == expected.centroids.tobytes()
    # Other pictures (or another order) are another vocabulary; a damaged entry is retrained.
    case_vocabulary(ctx, frames[:2])  # type: ignore[arg-type]
    assert trained == [3, 2]
    for entry in (tmp_path / VOCABULARY_NAMESPACE).rglob("*.npz"):
        entry.write_bytes(b"damaged")
    assert case_vocabulary(ctx, frames).centroids.tobytes() == expected.centroids.tobytes()  # type: ignore[arg-type]
    assert trained == [3, 2, 3]


def test_a_damaged_features_cache_is_computed_again(tmp_path):
    # The derived store is a cache: a damaged entry must not make an intact photo undecodable.
    path = tmp_path / "photo.png"
    Image.fromarray(texture(3)).save(path)
    item = SimpleNamespace(code="E-000001", kind="photo", sha256="ab" * 32, path=path)
    ctx = SimpleNamespace(ws=SimpleNamespace(derived=DerivedStore(tmp_path / "derived")))
    [first] = frame_features(ctx, item)  # type: ignore[arg-type]
    entries = [e for e in (tmp_path / "derived").rglob("*") if e.is_file()]
    assert entries
    for entry in entries:
        entry.write_bytes(b"damaged")
    [again] = frame_features(ctx, item)  # type: ignore[arg-type]
    np.testing.assert_array_equal(again.features.descriptors, first.features.descriptors)
    for entry in entries:
        Features.from_bytes(entry.read_bytes())  # rewritten whole
