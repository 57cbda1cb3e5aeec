"""Tests for verify/hashindex.py: exact search, brute force == multi-index hashing."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from verify.errors import InvalidValueError
from verify.hashindex import (
    HashIndex,
    ImageHashIndex,
    IndexHit,
    SearchMethod,
    words_from_hex,
)
from verify.hashing import HashKind, PerceptualHash, compare, hash_file, hash_image
from verify.media import load_image


def _naive(words: np.ndarray, keys: list[str], q: np.ndarray, r: int) -> list[IndexHit]:
    hits = []
    for i, row in enumerate(words):
        d = sum(int(a ^ b).bit_count() for a, b in zip(row, q, strict=True))
        if d <= r:
            hits.append((d, i))
    return [IndexHit(keys[i], d) for d, i in sorted(hits)]


@st.composite
def stores(draw):
    bits = draw(st.sampled_from([64, 256]))
    n_words = bits // 64
    n = draw(st.integers(min_value=0, max_value=120))
    seed = draw(st.integers(min_value=0, max_value=2**32 - 1))
    rng = np.random.default_rng(seed)
    words = rng.integers(0, 2**64, size=(n, n_words), dtype=np.uint64, endpoint=False)
    # Plant near neighbours of the query (and exact duplicates) so that hits are common.
    q = rng.integers(0, 2**64, size=n_words, dtype=np.uint64)
    for i in range(0, n, 3):
        flips = rng.choice(bits, size=int(rng.integers(0, bits // 3)), replace=False)
        row = q.copy()
        for f in flips:
            row[f // 64] ^= np.uint64(1) << np.uint64(f % 64)
        words[i] = row
    radius = draw(st.integers(min_value=0, max_value=bits // 2))
    return bits, words, q, radius


@settings(max_examples=60, deadline=None)
@given(stores())
def test_multi_index_equals_brute_force(store):
    bits, words, q, radius = store
    keys = [f"E-{i:06d}" for i in range(len(words))]
    index = HashIndex(bits)
    index.add_many(keys, words)
    brute = index.search(q, radius, method=SearchMethod.BRUTE_FORCE)
    multi = index.search(q, radius, method=SearchMethod.MULTI_INDEX)
    assert brute == multi == _naive(words, keys, q, radius)
    assert index.search(q, radius) == brute


@settings(max_examples=40, deadline=None)
@given(stores(), st.integers(min_value=0, max_value=2**32 - 1), st.integers(0, 70))
def test_search_many_equals_one_search_per_query(store, seed, n_queries):
    """Batched search returns, per query, exactly what `search` does (near and far queries)."""
    bits, words, q, radius = store
    keys = [f"E-{i:06d}" for i in range(len(words))]
    index = HashIndex(bits)
    index.add_many(keys, words)
    rng = np.random.default_rng(seed)
    queries = rng.integers(0, 2**64, size=(n_queries, bits // 64), dtype=np.uint64)
    queries[::2] = q
    if len(words):
        queries[1::3] = words[rng.integers(0, len(words), size=len(queries[1::3]))]
    for method in SearchMethod:
        batched = index.search_many(queries, radius, method=method)
        assert batched == [index.search(x, radius, method=method) for x in queries]
    if len(queries):
        first = index.search_many(queries[:1], radius)[0]
        assert first == _naive(words, keys, queries[0], radius)


def test_adding_after_search_rebuilds_tables():
    index = HashIndex(64)
    index.add("a", PerceptualHash(HashKind.PHASH, 0))
    assert index.search(np.zeros(1, np.uint64), 3, method=SearchMethod.MULTI_INDEX) == [
        IndexHit("a", 0)
    ]
    index.add("b", PerceptualHash(HashKind.PHASH, 0b111))
    assert index.search(np.zeros(1, np.uint64), 3, method=SearchMethod.MULTI_INDEX) == [
        IndexHit("a", 0),
        IndexHit("b", 3),
    ]


def test_shorter_hashes_fit_a_wider_index():
    index = HashIndex(64)
    index.add("c", PerceptualHash(HashKind.COLORHASH, 5))
    assert index.search(PerceptualHash(HashKind.COLORHASH, 4), 1) == [IndexHit("c", 1)]


def test_bad_input_is_refused():
    with pytest.raises(InvalidValueError):
        HashIndex(100)
    index = HashIndex(64)
    with pytest.raises(InvalidValueError):
        index.add_many(["a"], np.zeros((1, 4), np.uint64))
    with pytest.raises(InvalidValueError):
        index.add("p", PerceptualHash(HashKind.PDQ, 1))
    with pytest.raises(InvalidValueError):
        index.search(np.zeros(1, np.uint64), -1)


def test_words_from_hex_matches_to_words():
    hashes = [PerceptualHash(HashKind.PDQ, v) for v in (0, 1, (1 << 256) - 1, 12345 << 100)]
    words = words_from_hex([str(h) for h in hashes], 256)
    assert (words == np.stack([h.to_words() for h in hashes])).all()
    with pytest.raises(InvalidValueError):
        words_from_hex(["zz"], 64)


def test_image_index_returns_exactly_what_compare_matches(sites_dir: Path):
    paths = sorted(sites_dir.glob("*/*.jpg"))[:20]
    stored = [hash_file(p) for p in paths]
    index = ImageHashIndex()
    index.add_many([p.name for p in paths], stored)
    query_rgb = load_image(paths[3], max_side=300)
    queries = [stored[3], hash_image(np.ascontiguousarray(query_rgb[:, ::-1]))]
    for query in queries:
        pairs = zip(paths, stored, strict=True)
        expected = {p.name for p, h in pairs if compare(query, h).is_match}
        found = index.find_matches(query)
        assert {m.key for m in found} == expected
        assert found[0].key == paths[3].name
    assert index.find_matches(queries[1])[0].match.mirrored
