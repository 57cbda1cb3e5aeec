"""Pair verification on worker processes: same results as one process, and a fallback."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

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


_STARTER = """
import sys, time
from tests.verify.test_geometry import warped_pair
from verify.features import extract_features
from verify.pairpool import MIN_PAIRS_FOR_WORKERS, PairMatcher

if __name__ == "__main__":
    a, b = warped_pair(10)
    matcher = PairMatcher([extract_features(a), extract_features(b)], workers=2)
    matcher.match([(0, 1)] * MIN_PAIRS_FOR_WORKERS, min_inliers=10**6)
    print(" ".join(str(pid) for pid in matcher._pool._processes), flush=True)
    time.sleep(120)
"""


def _running(pid: int) -> bool:
    # An orphan that exited may stay a zombie where nothing reaps it (PID 1 of a container).
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux /proc")
def test_workers_end_when_the_process_that_started_them_is_killed(tmp_path):
    # Killed outright, the starting process cannot shut its pool down: the workers must notice
    # by themselves, not wait on their task queue forever holding the case's features.
    script = tmp_path / "starter.py"
    script.write_text(_STARTER)
    root = Path(__file__).resolve().parents[2]
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(root), os.environ.get("PYTHONPATH", "")]),
    }
    starter = subprocess.Popen(
        [sys.executable, str(script)], stdout=subprocess.PIPE, text=True, cwd=root, env=env
    )
    try:
        assert starter.stdout is not None
        workers = [int(pid) for pid in starter.stdout.readline().split()]
        assert len(workers) == 2 and all(_running(pid) for pid in workers)
    finally:
        starter.kill()
        starter.wait()
    deadline = time.monotonic() + 15
    while any(_running(pid) for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(_running(pid) for pid in workers)
