"""Global descriptors (VLAD) and the candidate-pair shortlist."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from verify.errors import InvalidValueError
from verify.retrieval import (
    CandidatePair,
    Vocabulary,
    _top_mask,
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


def _dense_shortlist(
    queries: np.ndarray,
    database: np.ndarray,
    k: int,
    *,
    exclude_self: bool = False,
    min_similarity: float,
) -> list[CandidatePair]:
    """The shortlist as it was before blocks: the whole queries x database matrix at once
    (`verify.retrieval.shortlist` must give exactly this)."""
    q = np.asarray(queries, dtype=np.float32)
    db = np.asarray(database, dtype=np.float32)
    n_q, n_db = q.shape[0], db.shape[0]
    if n_q == 0 or n_db == 0:
        return []
    sims = q @ db.T
    if exclude_self:
        np.fill_diagonal(sims, -np.inf)
    keep = sims >= min_similarity
    top = min(k, n_db - 1 if exclude_self else n_db)
    if top > 0:
        order = np.argsort(-sims, axis=1, kind="stable")[:, :top]
        keep[np.arange(n_q)[:, None], order] = True
    if exclude_self:
        np.fill_diagonal(keep, False)
        keep = np.triu(keep | keep.T, k=1)
    rows, cols = np.nonzero(keep)
    return [
        CandidatePair(int(i), int(j), float(sims[i, j])) for i, j in zip(rows, cols, strict=True)
    ]


# Small integer entries: every similarity is exact whatever order the matrix product adds in,
# so blocks and the whole matrix agree to the bit, and ties (which the order must break the
# same way) are everywhere.
_small_ints = st.integers(-3, 3).map(float)


@st.composite
def _shortlist_case(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray, bool]:
    dim = draw(st.integers(1, 5))
    exclude_self = draw(st.booleans())
    n_q = draw(st.integers(0, 24))
    n_db = n_q if exclude_self else draw(st.integers(0, 24))
    rows = st.lists(_small_ints, min_size=dim, max_size=dim)
    q = np.array(draw(st.lists(rows, min_size=n_q, max_size=n_q)), np.float32).reshape(n_q, dim)
    db = (
        q
        if exclude_self
        else np.array(draw(st.lists(rows, min_size=n_db, max_size=n_db)), np.float32).reshape(
            n_db, dim
        )
    )
    return q, db, exclude_self


@settings(max_examples=300, deadline=None)
@given(
    case=_shortlist_case(),
    k=st.integers(0, 6),
    min_similarity=st.sampled_from([-np.inf, -4.0, 0.0, 1.0, 2.5, 9.0, 2.0e9]),
    block=st.integers(1, 9),
)
def test_shortlist_in_blocks_is_the_whole_matrix_shortlist(case, k, min_similarity, block):
    q, db, exclude_self = case
    expected = _dense_shortlist(q, db, k, exclude_self=exclude_self, min_similarity=min_similarity)
    got = shortlist(q, db, k, exclude_self=exclude_self, min_similarity=min_similarity, block=block)
    assert got == expected


def test_shortlist_blocks_on_unit_descriptors_match_the_whole_matrix():
    # Production-like descriptors (random unit vectors, few ties): same pairs in the same order
    # for any block size; similarities equal up to the matrix product's float32 rounding, which
    # depends on the shape of the product the BLAS library is given.
    rng = np.random.default_rng(5)
    g = rng.normal(size=(700, 256)).astype(np.float32)
    g /= np.linalg.norm(g, axis=1, keepdims=True)
    # Fifteen near-duplicates (similarity ~1): the floor keeps more than 10 per query.
    g[:15] = g[0] + 0.03 * g[:15]
    for exclude_self, queries in ((True, g), (False, g[:300])):
        expected = _dense_shortlist(queries, g, 10, exclude_self=exclude_self, min_similarity=0.5)
        assert sum(p.query == 1 for p in expected) > 10
        for block in (1024, 256, 3, 1):
            got = shortlist(queries, g, 10, exclude_self=exclude_self, block=block)
            assert [(p.query, p.target) for p in got] == [(p.query, p.target) for p in expected]
            np.testing.assert_allclose(
                [p.similarity for p in got], [p.similarity for p in expected], rtol=0, atol=1e-6
            )


def test_shortlist_block_must_be_positive():
    with pytest.raises(InvalidValueError):
        shortlist(np.ones((2, 3)), np.ones((2, 3)), 1, block=0)


@settings(max_examples=300, deadline=None)
@given(
    values=st.lists(
        st.lists(
            st.sampled_from([np.nan, np.inf, -np.inf, 0.0, -0.0, 1.0, 2.0, -3.0]),
            min_size=6,
            max_size=6,
        ),
        min_size=1,
        max_size=5,
    ),
    top=st.integers(1, 6),
)
def test_top_mask_is_the_head_of_a_stable_sort(values, top):
    # Ties, signed zeros, infinities and NaN (similarities of overflowing descriptors) are
    # ranked as the first `top` of a stable argsort of -sims, NaN last.
    sims = np.array(values, np.float32)
    expected = np.zeros(sims.shape, bool)
    order = np.argsort(-sims, axis=1, kind="stable")[:, :top]
    expected[np.arange(len(sims))[:, None], order] = True
    assert np.array_equal(_top_mask(sims, top), expected)


def test_overflowing_similarities_are_ranked_as_the_whole_matrix_ranks_them():
    # One dimension, so each similarity is a single product whatever the BLAS library: big x
    # -big overflows to -inf, which ties with the image itself (-inf): the image is then among
    # its own top k, and dropped, as it was when the whole matrix was sorted.
    big = 1.0e30
    g = np.array([[big], [-big], [-big], [1.0], [2.0]], np.float32)
    with np.errstate(over="ignore"):
        for k in range(5):
            for floor in (2.0, -np.inf):
                expected = _dense_shortlist(g, g, k, exclude_self=True, min_similarity=floor)
                for block in (1, 2, 5):
                    got = shortlist(g, g, k, exclude_self=True, min_similarity=floor, block=block)
                    assert got == expected
        # The first image's own -inf comes first among its ties: it shortlists nothing.
        pairs = shortlist(g[:3], g[:3], 1, exclude_self=True, min_similarity=2.0, block=1)
        assert [(p.query, p.target) for p in pairs] == [(1, 2)]
