"""Pair verification on worker processes: same results as one process, and a fallback."""

from __future__ import annotations

import os
import signal

import pytest

import verify.pairpool as pairpool
from tests.verify.test_geometry import warped_pair
from verify.errors import InvalidValueError
from verify.features import extract_features
from verify.geometry import match_pair
from verify.pairpool import PairMatcher


@pytest.fixture(scope="module")
def features():
    out = []
    for seed in (20, 21):
        a, b = warped_pair(seed)
        out += [extract_features(a), extract_features(b)]
    return out


def _pairs(n: int) -> list[tuple[int, int]]:
    return [(a, b) for a in range(n) for b in range(n) if a != b]


def _summary(matches):
    return [(m.inliers, m.tentative, str(m.model)) for m in matches]


def test_workers_give_the_same_matches_as_one_process(features, monkeypatch):
    monkeypatch.setattr(pairpool, "MIN_PAIRS_FOR_WORKERS", 1)
    pairs = _pairs(len(features))
    expected = [match_pair(features[a], features[b], min_inliers=35) for a, b in pairs]
    finished: list[int] = []
    with PairMatcher(features) as matcher:
        got = matcher.match(pairs, min_inliers=35, done=finished.append)
        assert matcher.used_workers and not matcher.fell_back
    assert _summary(got) == _summary(expected)
    assert sum(finished) == len(pairs)
    # The warped pairs link, the unrelated ones do not: the comparison is not vacuous.
    assert {m.inliers >= 35 for m in got} == {True, False}


def test_small_calls_stay_in_this_process(features):
    with PairMatcher(features) as matcher:
        got = matcher.match([(0, 1)])
        assert not matcher.used_workers and matcher._pool is None
    assert got[0].inliers == match_pair(features[0], features[1]).inliers


def test_workers_that_cannot_start_fall_back(features, monkeypatch):
    monkeypatch.setattr(pairpool, "MIN_PAIRS_FOR_WORKERS", 1)

    def refuse(*args, **kwargs):
        raise OSError("no processes for you")

    monkeypatch.setattr(pairpool, "ProcessPoolExecutor", refuse)
    pairs = _pairs(len(features))
    with PairMatcher(features) as matcher:
        got = matcher.match(pairs)
        assert matcher.fell_back and not matcher.used_workers
    assert _summary(got) == _summary([match_pair(features[a], features[b]) for a, b in pairs])


def test_a_worker_that_dies_is_replaced_by_this_process(features, monkeypatch):
    monkeypatch.setattr(pairpool, "MIN_PAIRS_FOR_WORKERS", 1)
    pairs = _pairs(len(features))
    with PairMatcher(features) as matcher:
        first = matcher.match(pairs)
        assert matcher.used_workers
        for pid in list(matcher._pool._processes):  # type: ignore[union-attr]
            os.kill(pid, signal.SIGKILL)
        second = matcher.match(pairs)
        assert matcher.fell_back
    assert _summary(second) == _summary(first)


def test_bad_arguments_are_refused(features):
    with pytest.raises(InvalidValueError):
        PairMatcher(features, workers=0)
    with PairMatcher(features) as matcher, pytest.raises(InvalidValueError):
        matcher.match([(0, len(features))])


@pytest.mark.parametrize("min_pairs_for_workers", [1, 10**6])
def test_each_result_is_handed_over_once_as_it_is_verified(
    features, monkeypatch, min_pairs_for_workers
):
    monkeypatch.setattr(pairpool, "MIN_PAIRS_FOR_WORKERS", min_pairs_for_workers)
    pairs = _pairs(len(features))
    handed: dict[int, object] = {}

    def each(k, match):
        assert k not in handed
        handed[k] = match

    with PairMatcher(features) as matcher:
        got = matcher.match(pairs, each=each)
        assert matcher.used_workers == (min_pairs_for_workers == 1)
    assert sorted(handed) == list(range(len(pairs)))
    assert _summary([handed[k] for k in range(len(pairs))]) == _summary(got)
