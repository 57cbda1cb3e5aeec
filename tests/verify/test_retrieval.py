"""Global descriptors (VLAD) and the candidate-pair shortlist."""

from __future__ import annotations

import numpy as np
import pytest

from verify.errors import InvalidValueError
from verify.retrieval import (
    CandidatePair,
    Vocabulary,
    global_descriptor,
    global_descriptors,
    shortlist,
    train_vocabulary,
)


def _rootsift_like(rng: np.random.Generator, n: int) -> np.ndarray:
    """Non-negative unit-length 128-D vectors, the shape RootSIFT descriptors have."""
    d = rng.gamma(0.5, size=(n, 128)).astype(np.float32)
    d /= d.sum(axis=1, keepdims=True)
    return np.sqrt(d)


def _scene_views(seed: int, scenes: int, per_image: int = 400):
    """Each scene is a pool of descriptors; an image of it sees a random 60% with noise."""
    rng = np.random.default_rng(seed)
    pools = [_rootsift_like(rng, per_image) for _ in range(scenes)]

    def view(scene: int) -> np.ndarray:
        pool = pools[scene]
        seen = pool[rng.random(len(pool)) < 0.6]
        noisy = np.abs(seen + rng.normal(0, 0.03, seen.shape).astype(np.float32))
        return noisy / np.linalg.norm(noisy, axis=1, keepdims=True)

    return view


def test_shortlist_finds_true_neighbour_among_distractors():
    view = _scene_views(seed=1, scenes=60)
    database = [view(s) for s in range(60)]
    queries = [view(s) for s in range(0, 60, 6)]
    vocab = train_vocabulary(database, 32, seed=0)
    db = global_descriptors(vocab, database)
    q = global_descriptors(vocab, queries)
    pairs = shortlist(q, db, k=1, min_similarity=1.1)
    assert [(p.query, p.target) for p in pairs] == [(i, 6 * i) for i in range(10)]
    # Distractors score clearly lower than the true neighbour.
    sims = q @ db.T
    for i in range(10):
        others = np.delete(sims[i], 6 * i)
        assert sims[i, 6 * i] > others.max() + 0.05


def test_footage_shortlist_lists_each_unordered_pair_once():
    view = _scene_views(seed=2, scenes=5)
    sets = [view(s) for s in (0, 0, 1, 1, 2, 3, 4)]
    vocab = train_vocabulary(sets, 16, seed=3)
    g = global_descriptors(vocab, sets)
    pairs = shortlist(g, g, k=1, exclude_self=True, min_similarity=1.1)
    keys = [(p.query, p.target) for p in pairs]
    assert all(i < j for i, j in keys) and len(set(keys)) == len(keys)
    assert (0, 1) in keys and (2, 3) in keys
    # Every image appears: its own top-1 is in the list whichever way round.
    assert {i for pair in keys for i in pair} == set(range(len(sets)))
    everything = shortlist(g, g, k=0, exclude_self=True, min_similarity=-2.0)
    assert len(everything) == len(sets) * (len(sets) - 1) // 2


def test_similarity_floor_adds_pairs_beyond_top_k():
    g = np.eye(4, dtype=np.float32)
    g[1] = g[0]
    g[2] = g[0]
    pairs = shortlist(g, g, k=0, exclude_self=True, min_similarity=0.9)
    assert pairs == [CandidatePair(0, 1, 1.0), CandidatePair(0, 2, 1.0), CandidatePair(1, 2, 1.0)]


def test_vocabulary_is_deterministic_and_round_trips():
    view = _scene_views(seed=4, scenes=8)
    sets = [view(s) for s in range(8)]
    a = train_vocabulary(sets, 16, seed=7, sample=2000)
    b = train_vocabulary(sets, 16, seed=7, sample=2000)
    assert np.array_equal(a.centroids, b.centroids)
    c = Vocabulary.from_bytes(a.to_bytes())
    assert np.array_equal(c.centroids, a.centroids) and c.words == 16 and c.dimension == 16 * 128
    vlad = global_descriptor(c, sets[0])
    assert vlad.shape == (16 * 128,) and abs(float(np.linalg.norm(vlad)) - 1.0) < 1e-5
    assert not global_descriptor(c, np.zeros((0, 128), np.float32)).any()


def test_bad_inputs_raise_typed_errors():
    with pytest.raises(InvalidValueError):
        Vocabulary.from_bytes(b"not an npz")
    with pytest.raises(InvalidValueError):
        train_vocabulary([], 8)
    with pytest.raises(InvalidValueError):
        train_vocabulary([np.zeros((10, 32), np.uint8)], 8)
    vocab = Vocabulary(np.ones((4, 128), np.float32))
    with pytest.raises(InvalidValueError):
        global_descriptor(vocab, np.ones((5, 64), np.float32))
    with pytest.raises(InvalidValueError):
        shortlist(np.ones((2, 3)), np.ones((2, 4)), 1)
    with pytest.raises(InvalidValueError):
        shortlist(np.full((2, 3), np.nan), np.ones((2, 3)), 1)
    with pytest.raises(InvalidValueError):
        shortlist(np.ones((2, 3)), np.ones((3, 3)), 1, exclude_self=True)
