"""Tests for verify/hashindex.py: exact search, brute force == multi-index hashing."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import verify.hashindex as hashindex
from verify.errors import InvalidValueError
from verify.hashindex import (
    BRUTE_FORCE_MAX_ITEMS,
    HashIndex,
    ImageHashIndex,
    IndexHit,
    SearchMethod,
    words_from_hex,
)
from verify.hashing import HashKind, PerceptualHash, compare, hash_file, hash_image
from verify.media import load_image
from verify.samepicture import ANCHOR_RADIUS


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


def _reference(words: np.ndarray, keys: list[str], q: np.ndarray, r: int) -> list[IndexHit]:
    """`_naive` vectorised (for stores of tens of thousands): nearest first, ties by entry."""
    dist = np.bitwise_count(words ^ q).sum(axis=1, dtype=np.int64)
    hits = sorted((int(d), i) for i, d in enumerate(dist.tolist()) if d <= r)
    return [IndexHit(keys[i], d) for d, i in hits]


def _planted_batch(
    rng: np.random.Generator, bits: int, n: int, k: int, radius: int
) -> tuple[np.ndarray, list[str], np.ndarray]:
    """A store of `n` hashes with near copies of the `k` queries planted in it (within and just
    beyond `radius`) and stored hashes that repeat (ties in distance), queries of which some equal
    stored hashes. Keys run against the order of entry, so a tie order by key would show."""
    n_words = bits // 64
    queries = rng.integers(0, 2**64, size=(k, n_words), dtype=np.uint64)
    words = rng.integers(0, 2**64, size=(n, n_words), dtype=np.uint64)
    if n and k:
        for slot in rng.choice(n, size=min(n, 4 * k), replace=False):
            row = queries[rng.integers(k)].copy()
            for f in rng.choice(bits, size=int(rng.integers(0, radius + 3)), replace=False):
                row[f // 64] ^= np.uint64(1) << np.uint64(f % 64)
            words[slot] = row
        repeats = rng.integers(0, n, size=min(n, 8))
        words[rng.integers(0, n, size=len(repeats))] = words[repeats]
        queries[1::3] = words[rng.integers(0, n, size=len(queries[1::3]))]
    return words, [f"K{n - i:06d}" for i in range(n)], queries


@st.composite
def anchor_batches(draw: st.DrawFn) -> tuple[int, np.ndarray, list[str], np.ndarray, int]:
    """Stores on either side of the brute-force / multi-index switch, radii 0, the anchor radius
    and others (on large stores only those at which multi-index hashing is worth it: forcing it
    at wide radii is slow)."""
    bits = draw(st.sampled_from([64, 256]))
    small = draw(st.booleans())
    n = draw(
        st.integers(0, 150)
        if small
        else st.integers(BRUTE_FORCE_MAX_ITEMS - 1, BRUTE_FORCE_MAX_ITEMS + 3)
    )
    widest = bits // 2 if small else bits // 6
    radius = draw(st.one_of(st.just(0), st.just(ANCHOR_RADIUS), st.integers(0, widest)))
    radius = min(radius, widest)
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    words, keys, queries = _planted_batch(rng, bits, n, draw(st.integers(1, 40)), radius)
    return bits, words, keys, queries, radius


@settings(max_examples=60, deadline=None)
@given(anchor_batches(), st.integers(1, 5_000), st.integers(1, 20_000))
def test_batched_search_equals_single_searches(
    batch: tuple[int, np.ndarray, list[str], np.ndarray, int],
    positions_per_pass: int,
    runs_per_pass: int,
) -> None:
    """search_many == one search per query == the reference, for every method, whether the
    batch is probed in one pass or in many small ones (passes split inside a query's runs)."""
    bits, words, keys, queries, radius = batch
    index = HashIndex(bits)
    index.add_many(keys, words)
    expected = [_reference(words, keys, q, radius) for q in queries]
    for method in SearchMethod:
        assert index.search_many(queries, radius, method=method) == expected
        assert [index.search(q, radius, method=method) for q in queries] == expected
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(hashindex, "_MIH_POSITIONS_PER_PASS", positions_per_pass)
        patch.setattr(hashindex, "_MIH_RUNS_PER_PASS", runs_per_pass)
        assert index.search_many(queries, radius, method=SearchMethod.MULTI_INDEX) == expected


@pytest.mark.parametrize(("bits", "radius"), [(256, ANCHOR_RADIUS), (256, 0), (64, 5)])
def test_anchor_sized_batch_above_the_switch(bits: int, radius: int) -> None:
    """Just above BRUTE_FORCE_MAX_ITEMS, AUTO searches a batch by multi-index hashing, with
    the reference's hits, distances and order."""
    rng = np.random.default_rng(bits + radius)
    words, keys, queries = _planted_batch(rng, bits, BRUTE_FORCE_MAX_ITEMS + 1, 144, radius)
    index = HashIndex(bits)
    index.add_many(keys, words)
    assert index._choose_method(radius, queries) is SearchMethod.MULTI_INDEX
    found = index.search_many(queries, radius)
    assert found == [_reference(words, keys, q, radius) for q in queries]
    assert sum(len(hits) for hits in found) > len(queries) // 3
    assert any(len({h.distance for h in hits}) < len(hits) for hits in found)


def test_ties_come_in_the_order_added() -> None:
    """Equal distances keep the order of entry, not of key, in every path."""
    base = np.uint64(0b1011)
    index = HashIndex(64)
    index.add_many(["z", "a", "m", "b"], np.array([[base], [base ^ 1], [base], [base ^ 2]]))
    expected = [IndexHit("z", 0), IndexHit("m", 0), IndexHit("a", 1), IndexHit("b", 1)]
    for method in SearchMethod:
        assert index.search(np.array([base]), 1, method=method) == expected
        assert index.search_many(np.array([[base], [base]]), 1, method=method) == [expected] * 2


def test_search_many_on_an_empty_store_or_batch() -> None:
    index = HashIndex(256)
    for method in SearchMethod:
        assert index.search_many(np.zeros((3, 4), np.uint64), 40, method=method) == [[]] * 3
    index.add("a", np.zeros(4, np.uint64))
    for method in SearchMethod:
        assert index.search_many(np.zeros((0, 4), np.uint64), 40, method=method) == []
    with pytest.raises(InvalidValueError):
        index.search_many(np.zeros((2, 1), np.uint64), 40)
    with pytest.raises(InvalidValueError):
        index.search_many(np.zeros((2, 4), np.uint64), -1)


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


def test_auto_scans_by_brute_force_when_the_probes_would_touch_most_of_the_store() -> None:
    """Uneven hashes (here: every stored hash's first 128 bits are the same, as real ORB anchors
    crowd some substrings) make multi-index hashing examine most of the store; AUTO counts the
    positions its probes would touch and scans instead, with the same results."""
    rng = np.random.default_rng(11)
    words, keys, queries = _planted_batch(rng, 256, BRUTE_FORCE_MAX_ITEMS + 1, 20, ANCHOR_RADIUS)
    words[:, :2] = np.uint64(0)
    queries[:, :2] = np.uint64(0)
    index = HashIndex(256)
    index.add_many(keys, words)
    assert index._choose_method(ANCHOR_RADIUS, queries) is SearchMethod.BRUTE_FORCE
    expected = [_reference(words, keys, q, ANCHOR_RADIUS) for q in queries]
    assert index.search_many(queries, ANCHOR_RADIUS) == expected
    assert index.search_many(queries, ANCHOR_RADIUS, method=SearchMethod.MULTI_INDEX) == expected


@pytest.mark.parametrize("method", list(SearchMethod))
def test_no_queries_against_a_large_store(method: SearchMethod) -> None:
    """A picture without anchors searches with an empty batch; above the brute-force switch
    AUTO weighs the probes of the queries, of which there are none."""
    rng = np.random.default_rng(5)
    words, keys, _ = _planted_batch(rng, 256, BRUTE_FORCE_MAX_ITEMS + 1, 1, ANCHOR_RADIUS)
    index = HashIndex(256)
    index.add_many(keys, words)
    assert index.search_many(np.zeros((0, 4), np.uint64), ANCHOR_RADIUS, method=method) == []
    assert hashindex._substrings(np.zeros((0, 4), np.uint64)).shape == (0, 16)
