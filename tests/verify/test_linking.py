"""Link search: the retrieval shortlist widened by two-hop neighbours of verified links."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest

from verify.errors import InvalidValueError
from verify.footage_graph import LINK_MIN_INLIERS
from verify.linking import search_links


def _descriptors(n: int, seed: int = 0) -> np.ndarray:
    d = np.random.default_rng(seed).normal(size=(n, 32)).astype(np.float32)
    return d / np.linalg.norm(d, axis=1, keepdims=True)


def test_two_hop_neighbours_find_links_the_shortlist_misses():
    # A walk of ten pictures: each looks most like the next, and overlaps the three after it.
    # A shortlist of one candidate per picture sees only consecutive pairs; two-hop neighbours
    # of the verified links find the rest.
    n = 10
    angles = np.cumsum(0.1 + 0.01 * np.arange(n))  # growing steps: no ties
    walk = np.stack([np.cos(angles), np.sin(angles)], axis=1).astype(np.float32)
    truth = {(i, j) for i in range(n) for j in range(i + 1, n) if j - i <= 3}
    calls: list[tuple[int, int]] = []

    def verify(pairs: Sequence[tuple[int, int]]) -> list[int | None]:
        calls.extend(pairs)
        return [100 if p in truth else 5 for p in pairs]

    plain = search_links(walk, verify, top_k=1, min_similarity=2.0, rounds=0)
    calls.clear()
    widened = search_links(walk, verify, top_k=1, min_similarity=2.0, per_node=n)
    assert widened.shortlisted == plain.shortlisted
    found_plain = {(i, j) for i, j, _ in plain.links()}
    found = {(i, j) for i, j, _ in widened.links()}
    assert found_plain == {(i, i + 1) for i in range(n - 1)}
    assert found == truth
    assert widened.expanded > 0 and widened.rounds >= 1
    assert all(i < j for i, j in calls) and len(set(calls)) == len(calls)


def test_pairs_the_verifier_declines_are_not_links():
    def verify(pairs: Sequence[tuple[int, int]]) -> list[int | None]:
        return [None if 0 in p else LINK_MIN_INLIERS for p in pairs]

    out = search_links(_descriptors(6), verify, top_k=5)
    assert out.links() and all(0 not in (i, j) for i, j, _ in out.links())
    assert all(0 not in p for p in out.inliers)


def test_bad_settings_and_verifier_are_refused():
    with pytest.raises(InvalidValueError):
        search_links(_descriptors(3), lambda p: [0] * len(p), per_node=-1)
    with pytest.raises(InvalidValueError):
        search_links(_descriptors(3), lambda p: [])
