"""Link search: the retrieval shortlist widened by pairs that share verified neighbours."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from verify.errors import InvalidValueError
from verify.footage_graph import LINK_MIN_INLIERS
from verify.linking import LinkSearch, PairVerifier, Verified, _Graph, reuse_order, search_links
from verify.retrieval import shortlist


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

    plain = search_links(_walk(n), verify, all_pairs_limit=0, top_k=1, min_similarity=2.0, rounds=0)
    calls.clear()
    widened = search_links(_walk(n), verify, all_pairs_limit=0, top_k=1, min_similarity=2.0)
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

    strict = search_links(
        _walk(n), verify, all_pairs_limit=0, top_k=1, min_similarity=2.0, min_shared=0.8
    )
    assert strict.expanded == 0
    ends = search_links(
        _walk(n), verify, all_pairs_limit=0, top_k=1, min_similarity=2.0, min_shared=0.6
    )
    assert set(ends.inliers) == truth | {(0, 2), (n - 3, n - 1)}
    loose = search_links(
        _walk(n), verify, all_pairs_limit=0, top_k=1, min_similarity=2.0, min_shared=0.5
    )
    assert set(loose.inliers) == truth | {(i, i + 2) for i in range(n - 2)}


def test_budget_and_batches_bound_the_pairs_verified():
    n = 12
    truth = {(i, j) for i in range(n) for j in range(i + 1, n) if j - i <= 3}

    def verify(pairs: Sequence[tuple[int, int]]) -> list[int | None]:
        return [100 if p in truth else 5 for p in pairs]

    free = search_links(_walk(n), verify, all_pairs_limit=0, top_k=1, min_similarity=2.0)
    assert len(free.inliers) > 2 * n
    capped = search_links(
        _walk(n), verify, all_pairs_limit=0, top_k=1, min_similarity=2.0, pairs_per_node=1.5
    )
    assert len(capped.inliers) == int(1.5 * n)
    # One candidate per round, the most shared first: every round verifies one pair and the
    # search stops at the first round that finds no link.
    slow = search_links(
        _walk(n), verify, all_pairs_limit=0, top_k=1, min_similarity=2.0, batch_per_node=1 / n
    )
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
        search_links(_descriptors(3), lambda p: [0] * len(p), all_pairs_limit=-1)
    with pytest.raises(InvalidValueError):
        search_links(_descriptors(3), lambda p: [])


def _dense_search_links(
    descriptors: np.ndarray,
    verify: PairVerifier,
    *,
    top_k: int,
    min_similarity: float,
    min_shared: float,
    rounds: int,
    batch_per_node: float,
    pairs_per_node: float | None,
    min_inliers: int = LINK_MIN_INLIERS,
) -> LinkSearch:
    """The closure as it was with n x n matrices (`search_links` must give exactly this)."""
    n = int(descriptors.shape[0])
    pairs = shortlist(
        descriptors, descriptors, top_k, exclude_self=True, min_similarity=min_similarity
    )
    first = reuse_order([(c.query, c.target) for c in pairs])
    tried = np.zeros((n, n), bool)
    linked = np.zeros((n, n), np.float32)
    inliers: dict[tuple[int, int], int] = {}

    def run(batch: list[tuple[int, int]]) -> int:
        if not batch:
            return 0
        new = 0
        for (i, j), count in zip(batch, verify(batch), strict=True):
            tried[i, j] = tried[j, i] = True
            if count is None:
                continue
            inliers[(i, j)] = int(count)
            if count >= min_inliers:
                linked[i, j] = linked[j, i] = 1.0
                new += 1
        return new

    run(first)
    expanded = done_rounds = 0
    budget = None if pairs_per_node is None else int(pairs_per_node * n)
    batch_size = max(1, int(batch_per_node * n))
    for _ in range(rounds):
        room = batch_size if budget is None else min(batch_size, budget - len(inliers))
        if room <= 0:
            break
        common = linked @ linked
        degree = linked.sum(axis=1)
        shared = common / np.sqrt(np.maximum(np.outer(degree, degree), 1.0))
        candidates = np.triu((common >= 1) & (shared >= min_shared) & ~tried, k=1)
        rows, cols = np.nonzero(candidates)
        if len(rows) == 0:
            break
        best = np.argsort(-shared[rows, cols], kind="stable")[:room]
        batch = reuse_order(list(zip(rows[best].tolist(), cols[best].tolist(), strict=True)))
        expanded += len(batch)
        done_rounds += 1
        if not run(batch):
            break
    return LinkSearch(inliers, len(first), expanded, done_rounds)


def _planted_verifier(
    places: np.ndarray, seed: int, p_link: float, p_declined: float
) -> tuple[PairVerifier, list[list[tuple[int, int]]]]:
    """A verifier that links pairs of one place with probability `p_link` (fixed per pair),
    declines some pairs, and records the batches it was given."""
    calls: list[list[tuple[int, int]]] = []

    def verify(pairs: Sequence[tuple[int, int]]) -> list[int | None]:
        calls.append(list(pairs))
        out: list[int | None] = []
        for i, j in pairs:
            u = np.random.default_rng([seed, i, j]).random(2)
            if u[0] < p_declined:
                out.append(None)
            elif places[i] == places[j] and u[1] < p_link:
                out.append(LINK_MIN_INLIERS + int(100 * u[1]))
            else:
                out.append(int(LINK_MIN_INLIERS * u[1]))
        return out

    return verify, calls


@settings(max_examples=150, deadline=None)
@given(
    n=st.integers(0, 40),
    place_count=st.integers(1, 5),
    seed=st.integers(0, 2**16),
    top_k=st.integers(0, 4),
    min_similarity=st.sampled_from([2.0, 0.6, 0.0]),
    min_shared=st.sampled_from([1.0, 0.5, 0.3, 0.25, 0.1, 0.01]),
    rounds=st.integers(0, 12),
    batch_per_node=st.sampled_from([0.01, 0.1, 0.5, 1.0, 4.0]),
    pairs_per_node=st.sampled_from([None, None, 0.5, 2.0, 6.0]),
    p_link=st.sampled_from([0.2, 0.6, 1.0]),
    p_declined=st.sampled_from([0.0, 0.0, 0.1]),
)
def test_sparse_closure_is_the_dense_closure(
    n,
    place_count,
    seed,
    top_k,
    min_similarity,
    min_shared,
    rounds,
    batch_per_node,
    pairs_per_node,
    p_link,
    p_declined,
):
    # Frames of one place look alike (centre plus noise); same pairs verified in the same
    # batches, in the same order, and the same search result as the n x n matrices gave.
    rng = np.random.default_rng(seed)
    places = rng.integers(0, place_count, n)
    centres = rng.normal(size=(place_count, 16))
    d = (centres[places] + rng.normal(size=(n, 16))).astype(np.float32).reshape(n, 16)
    d /= np.linalg.norm(d, axis=1, keepdims=True)
    settings_ = {
        "top_k": top_k,
        "min_similarity": min_similarity,
        "min_shared": min_shared,
        "rounds": rounds,
        "batch_per_node": batch_per_node,
        "pairs_per_node": pairs_per_node,
    }
    verify, calls = _planted_verifier(places, seed, p_link, p_declined)
    expected = _dense_search_links(d, verify, **settings_)
    dense_calls = list(calls)
    calls.clear()
    got = search_links(d, verify, all_pairs_limit=0, **settings_)
    assert calls == dense_calls
    assert got == expected


def test_sparse_closure_matches_dense_over_many_rounds():
    # A few hundred frames in places of 10-60: the closure runs round after round (ties of
    # overlap everywhere) and must choose exactly as the dense matrices did.
    rng = np.random.default_rng(11)
    sizes = rng.integers(10, 60, 12)
    places = np.repeat(np.arange(len(sizes)), sizes)
    n = len(places)
    centres = rng.normal(size=(len(sizes), 32))
    d = (centres[places] + 1.5 * rng.normal(size=(n, 32))).astype(np.float32)
    d /= np.linalg.norm(d, axis=1, keepdims=True)
    verify, calls = _planted_verifier(places, 3, 0.5, 0.02)
    settings_ = {
        "top_k": 3,
        "min_similarity": 2.0,
        "min_shared": 0.25,
        "rounds": 50,
        "batch_per_node": 0.2,
        "pairs_per_node": None,
    }
    expected = _dense_search_links(d, verify, **settings_)
    dense_calls = list(calls)
    calls.clear()
    got = search_links(d, verify, all_pairs_limit=0, **settings_)
    assert expected.rounds >= 20 and expected.expanded > expected.shortlisted
    assert calls == dense_calls
    assert got == expected


def test_a_small_case_verifies_every_pair_once():
    # Up to the limit no shortlist can lose a link: every pair is verified, once, whatever the
    # global descriptors say (here they make every pair look unalike).
    n = 12
    seen: list[tuple[int, int]] = []

    def verify(pairs):
        seen.extend(pairs)
        return [40 if j == i + 1 else 0 for i, j in pairs]

    out = search_links(
        _descriptors(n), verify, min_similarity=2.0, all_pairs_limit=n * (n - 1) // 2
    )
    assert sorted(seen) == [(i, j) for i in range(n) for j in range(i + 1, n)]
    assert len(set(seen)) == len(seen)
    assert (out.shortlisted, out.expanded, out.rounds) == (len(seen), 0, 0)
    assert [(i, j) for i, j, _ in out.links()] == [(i, i + 1) for i in range(n - 1)]


def test_above_the_limit_the_shortlist_is_used_and_the_budget_never_goes_below_it():
    n = 12
    every = n * (n - 1) // 2
    truth = {(i, j) for i in range(n) for j in range(i + 1, n) if j - i <= 3}
    for limits, most in (
        ({"all_pairs_limit": every - 1}, every - 1),
        # 1 pair per frame would be 12; a large case gets at least what a small one has all of.
        ({"all_pairs_limit": 20, "pairs_per_node": 1.0}, 20),
    ):
        seen: list[tuple[int, int]] = []

        def verify(pairs, seen=seen):
            seen.extend(pairs)
            return [100 if p in truth else 5 for p in pairs]

        search_links(_walk(n), verify, top_k=1, min_similarity=2.0, **limits)
        assert 0 < len(seen) <= most < every
    assert len(seen) == 20


def _arc(n: int) -> np.ndarray:
    """`_walk` in small steps, so that a long walk does not come round the circle."""
    angles = np.cumsum(0.02 + 0.001 * np.arange(n))
    return np.stack([np.cos(angles), np.sin(angles)], axis=1).astype(np.float32)


def _seen_features(n: int, width: int, step: int) -> list[np.ndarray]:
    """Frames of a walk along a row of numbered scene points: frame i sees points
    [step x i, step x i + width), as its features 0..width-1."""
    return [np.arange(step * i, step * i + width) for i in range(n)]


def _feature_verifier(seen: list[np.ndarray], calls: list[tuple[int, int]]) -> PairVerifier:
    """Links frames that see at least LINK_MIN_INLIERS common points, saying which features."""

    def verify(pairs: Sequence[tuple[int, int]]) -> list[int | Verified | None]:
        calls.extend(pairs)
        out: list[int | Verified | None] = []
        for i, j in pairs:
            both = np.intersect1d(seen[i], seen[j])
            out.append(
                Verified(len(both), both - seen[i][0], both - seen[j][0])
                if len(both) >= LINK_MIN_INLIERS
                else len(both)
            )
        return out

    return verify


def test_transitive_correspondences_verify_the_pairs_that_see_the_same_points():
    # Frame i sees points [5i, 5i + 100): frames up to 13 apart share >= 35 points. A shortlist
    # of one neighbour finds only consecutive links; frames that matched the same points of a
    # common neighbour are verified next, and find every link. Shared neighbours alone (here
    # only identical neighbourhoods, min_shared 1.0) find few.
    n = 40
    seen = _seen_features(n, 100, 5)
    truth = {
        (i, j) for i in range(n) for j in range(i + 1, n) if 100 - 5 * (j - i) >= LINK_MIN_INLIERS
    }
    settings_ = {"all_pairs_limit": 0, "top_k": 1, "min_similarity": 2.0, "min_shared": 1.0}
    calls: list[tuple[int, int]] = []
    found = search_links(_arc(n), _feature_verifier(seen, calls), min_common=20, **settings_)
    assert {(i, j) for i, j, _ in found.links()} == truth
    # Beyond the shortlist, only frames that see common points were verified: never frames 20
    # or more apart (100 - 5 x 20 = 0), though such frames share linked neighbours.
    assert max(j - i for i, j in calls) < 20
    without = search_links(_arc(n), _feature_verifier(seen, []), min_common=None, **settings_)
    assert len(without.links()) < len(truth) / 2


def test_transitive_correspondences_are_counted_as_a_brute_force_would():
    # Links recorded batch by batch; the incrementally kept counts equal, after every batch,
    # counting every third frame's features matched by both frames of each pair.
    rng = np.random.default_rng(5)
    for trial in range(25):
        n = int(rng.integers(2, 20))
        graph = _Graph(n)
        matched_by: dict[tuple[int, int], set[int]] = {}
        pairs = [(i, j) for i in range(n) for j in range(i + 1, n)]
        order = rng.permutation(len(pairs))
        for batch in np.array_split(order, int(rng.integers(1, 5))):
            results: dict[tuple[int, int], int | Verified] = {}
            for k in batch:
                i, j = pairs[k]
                size = int(rng.integers(0, 8))
                if size < 3:
                    results[(i, j)] = size
                    continue
                fi = rng.choice(10, size, replace=False)
                fj = rng.choice(10, size, replace=False)
                results[(i, j)] = Verified(size, fi, fj)
                for f in fi:
                    matched_by.setdefault((i, int(f)), set()).add(j)
                for f in fj:
                    matched_by.setdefault((j, int(f)), set()).add(i)
            todo = [pairs[k] for k in batch]
            graph.record(lambda p, r=results: [r[x] for x in p], todo, {}, 3)
            want = np.zeros((n, n), np.int64)
            for frames in matched_by.values():
                s = sorted(frames)
                for x, a in enumerate(s):
                    for b in s[x + 1 :]:
                        want[a, b] += 1
            assert np.array_equal(graph.common_features().toarray(), want), trial


@pytest.mark.parametrize(
    "features",
    [np.array([-1, 2]), np.array([[1, 2]]), np.array([1.5, 2.0]), np.array([1 << 33])],
)
def test_bad_inlier_features_are_refused(features):
    def verify(pairs):
        return [Verified(40, features, np.arange(len(features))) for _ in pairs]

    with pytest.raises(InvalidValueError):
        search_links(_walk(4), verify, all_pairs_limit=100)
