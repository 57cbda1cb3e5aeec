"""Link search: the retrieval shortlist widened by pairs that share verified neighbours."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest

from verify.errors import InvalidValueError
from verify.footage_graph import LINK_MIN_INLIERS
from verify.linking import reuse_order, search_links


def _descriptors(n: int, seed: int = 0) -> np.ndarray:
    d = np.random.default_rng(seed).normal(size=(n, 32)).astype(np.float32)
    return d / np.linalg.norm(d, axis=1, keepdims=True)


def _walk(n: int) -> np.ndarray:
    """Descriptors of a walk: each picture looks most like the next (growing steps: no ties)."""
    angles = np.cumsum(0.1 + 0.01 * np.arange(n))
    return np.stack([np.cos(angles), np.sin(angles)], axis=1).astype(np.float32)


def test_shared_neighbours_find_links_the_shortlist_misses():
    # A walk of ten pictures, each overlapping the three after it. A shortlist of one candidate
    # per picture sees only consecutive pairs; pairs sharing linked neighbours find the rest.
    n = 10
    truth = {(i, j) for i in range(n) for j in range(i + 1, n) if j - i <= 3}
    calls: list[tuple[int, int]] = []

    def verify(pairs: Sequence[tuple[int, int]]) -> list[int | None]:
        calls.extend(pairs)
        return [100 if p in truth else 5 for p in pairs]

    plain = search_links(_walk(n), verify, top_k=1, min_similarity=2.0, rounds=0)
    calls.clear()
    widened = search_links(_walk(n), verify, top_k=1, min_similarity=2.0)
    assert widened.shortlisted == plain.shortlisted
    found_plain = {(i, j) for i, j, _ in plain.links()}
    found = {(i, j) for i, j, _ in widened.links()}
    assert found_plain == {(i, i + 1) for i in range(n - 1)}
    assert found == truth
    assert widened.expanded > 0 and widened.rounds >= 1
    assert all(i < j for i, j in calls) and len(set(calls)) == len(calls)
    # Only pairs with a common linked neighbour were verified beyond the shortlist: never a
    # pair more than 6 steps apart, which shares none under links of at most 3 steps.
    assert all(j - i <= 6 for i, j in calls)


def test_min_shared_asks_for_overlapping_neighbourhoods():
    # Consecutive links only: inner pairs (i, i + 2) share 1 of 2 neighbours each (overlap
    # 1 / sqrt(2 x 2) = 0.5), pairs at the ends 1 / sqrt(1 x 2) = 0.71.
    n = 8
    truth = {(i, i + 1) for i in range(n - 1)}

    def verify(pairs: Sequence[tuple[int, int]]) -> list[int | None]:
        return [100 if p in truth else 5 for p in pairs]

    strict = search_links(_walk(n), verify, top_k=1, min_similarity=2.0, min_shared=0.8)
    assert strict.expanded == 0
    ends = search_links(_walk(n), verify, top_k=1, min_similarity=2.0, min_shared=0.6)
    assert set(ends.inliers) == truth | {(0, 2), (n - 3, n - 1)}
    loose = search_links(_walk(n), verify, top_k=1, min_similarity=2.0, min_shared=0.5)
    assert set(loose.inliers) == truth | {(i, i + 2) for i in range(n - 2)}


def test_budget_and_batches_bound_the_pairs_verified():
    n = 12
    truth = {(i, j) for i in range(n) for j in range(i + 1, n) if j - i <= 3}

    def verify(pairs: Sequence[tuple[int, int]]) -> list[int | None]:
        return [100 if p in truth else 5 for p in pairs]

    free = search_links(_walk(n), verify, top_k=1, min_similarity=2.0)
    assert len(free.inliers) > 2 * n
    capped = search_links(_walk(n), verify, top_k=1, min_similarity=2.0, pairs_per_node=1.5)
    assert len(capped.inliers) == int(1.5 * n)
    # One candidate per round, the most shared first: every round verifies one pair and the
    # search stops at the first round that finds no link.
    slow = search_links(_walk(n), verify, top_k=1, min_similarity=2.0, batch_per_node=1 / n)
    assert slow.rounds == slow.expanded > free.rounds
    assert set(slow.links()) < set(free.links())
    assert sum(count < LINK_MIN_INLIERS for count in slow.inliers.values()) == 1


def test_reuse_order_groups_pairs_by_tile():
    pairs = [(0, 9), (5, 6), (0, 1), (4, 9), (1, 2)]
    assert reuse_order(pairs, tile=5) == [(0, 1), (1, 2), (0, 9), (4, 9), (5, 6)]
    with pytest.raises(InvalidValueError):
        reuse_order(pairs, tile=0)


def test_pairs_the_verifier_declines_are_not_links():
    def verify(pairs: Sequence[tuple[int, int]]) -> list[int | None]:
        return [None if 0 in p else LINK_MIN_INLIERS for p in pairs]

    out = search_links(_descriptors(6), verify, top_k=5)
    assert out.links() and all(0 not in (i, j) for i, j, _ in out.links())
    assert all(0 not in p for p in out.inliers)


def test_bad_settings_and_verifier_are_refused():
    with pytest.raises(InvalidValueError):
        search_links(_descriptors(3), lambda p: [0] * len(p), min_shared=0.0)
    with pytest.raises(InvalidValueError):
        search_links(_descriptors(3), lambda p: [0] * len(p), pairs_per_node=-1)
    with pytest.raises(InvalidValueError):
        search_links(_descriptors(3), lambda p: [])
