"""Tests for verify/hamming.py: faiss's exact binary scans against a plain reference."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from verify.errors import InvalidValueError
from verify.hamming import BinaryScan, codes_from_words, nearest_two


def _distances(queries: np.ndarray, base: np.ndarray) -> np.ndarray:
    bits = np.unpackbits(queries[:, None, :] ^ base[None, :, :], axis=2)
    return bits.sum(axis=2).astype(np.int64)


@st.composite
def code_sets(draw):
    width = draw(st.sampled_from([8, 32]))
    n = draw(st.integers(2, 60))
    k = draw(st.integers(0, 20))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 256, (n, width), dtype=np.uint8)
    # Half the queries are near copies of stored codes, so there are hits and ties.
    queries = rng.integers(0, 256, (k, width), dtype=np.uint8)
    for i in range(0, k, 2):
        queries[i] = base[rng.integers(n)]
        queries[i, rng.integers(width)] ^= np.uint8(1 << int(rng.integers(8)))
    return base, queries, draw(st.integers(0, 8 * width))


@settings(max_examples=60, deadline=None)
@given(code_sets())
def test_within_equals_the_reference(case) -> None:
    base, queries, radius = case
    query, ids, dist = BinaryScan(base).within(queries, radius)
    full = _distances(queries, base)
    expected = {(q, i, int(full[q, i])) for q, i in zip(*np.nonzero(full <= radius), strict=True)}
    assert set(zip(query.tolist(), ids.tolist(), dist.tolist(), strict=True)) == expected
    assert len(query) == len(expected)


@settings(max_examples=60, deadline=None)
@given(code_sets())
def test_nearest_two_has_the_two_smallest_distances(case) -> None:
    base, queries, _ = case
    distances, indices = nearest_two(queries, base)
    full = _distances(queries, base)
    assert distances.shape == indices.shape == (len(queries), 2)
    for q in range(len(queries)):
        assert distances[q].tolist() == sorted(full[q])[:2]
        assert [full[q, i] for i in indices[q]] == distances[q].tolist()
        assert indices[q, 0] != indices[q, 1]


def test_codes_keep_the_words_distances() -> None:
    rng = np.random.default_rng(3)
    words = rng.integers(0, 2**63, (30, 4), dtype=np.uint64)
    codes = codes_from_words(words)
    assert codes.shape == (30, 32) and codes.dtype == np.uint8
    expected = np.array(
        [
            [sum(int(x ^ y).bit_count() for x, y in zip(a, b, strict=True)) for b in words]
            for a in words
        ]
    )
    assert (_distances(codes, codes) == expected).all()
    assert codes_from_words(np.zeros((0, 1), np.uint64)).shape == (0, 8)


def test_a_scan_survives_pickling() -> None:
    rng = np.random.default_rng(4)
    base = rng.integers(0, 256, (50, 32), dtype=np.uint8)
    scan = BinaryScan(base)
    before = scan.within(base[:5], 100)
    copy = pickle.loads(pickle.dumps(scan))
    after = copy.within(base[:5], 100)
    assert all((a == b).all() for a, b in zip(before, after, strict=True))


@pytest.mark.parametrize(
    "call",
    [
        lambda: BinaryScan(np.zeros((3, 4), np.float32)),
        lambda: BinaryScan(np.zeros((3, 8), np.uint8)).within(np.zeros((1, 4), np.uint8), 3),
        lambda: BinaryScan(np.zeros((3, 8), np.uint8)).within(np.zeros((1, 8), np.uint8), -1),
        lambda: nearest_two(np.zeros((1, 8), np.uint8), np.zeros((1, 8), np.uint8)),
        lambda: codes_from_words(np.zeros(4, np.uint64)),
    ],
)
def test_bad_input_is_a_typed_error(call) -> None:
    with pytest.raises(InvalidValueError):
        call()
