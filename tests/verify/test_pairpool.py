"""Pair verification on worker processes: the same results as in-process, whatever happens to
the workers."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

import verify.pairpool as pairpool
from verify.errors import InvalidValueError
from verify.features import Features, extract_features
from verify.geometry import PairMatch
from verify.media import load_image


@pytest.fixture(scope="module")
def feature_files(sites_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Features of 6 real photos (two sites, so some pairs match and some do not) on disk."""
    church = sorted((sites_dir / "herz_jesu_church").glob("*.jpg"))[:4]
    castle = sorted((sites_dir / "ettlingen_castle").glob("*.jpg"))[:2]
    out = tmp_path_factory.mktemp("features")
    files = []
    for k, path in enumerate(church + castle):
        feats = extract_features(load_image(path, max_side=640), max_features=800)
        files.append(out / f"{k}.npz")
        files[-1].write_bytes(feats.to_bytes())
    return files


def _pairs(n: int) -> list[tuple[int, int]]:
    # Both orders of some pairs: match_pair is not symmetric, and order must be kept.
    return [(i, j) for i in range(n) for j in range(n) if i != j and (i + j) % 2 == 1]


def _same(a: list[PairMatch], b: list[PairMatch]) -> bool:
    return len(a) == len(b) and all(
        x.inliers == y.inliers
        and x.tentative == y.tentative
        and x.model == y.model
        and np.array_equal(x.points_a, y.points_a)
        and np.array_equal(x.points_b, y.points_b)
        for x, y in zip(a, b, strict=True)
    )


@pytest.fixture
def pool_always(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pairpool, "MIN_PAIRS_FOR_POOL", 0)
    monkeypatch.setattr(pairpool, "CHUNK_PAIRS", 2)


def test_workers_give_the_in_process_results(feature_files: list[Path], pool_always: None):
    pairs = _pairs(len(feature_files))
    alone = pairpool.match_pairs(feature_files, pairs, workers=1)
    done: list[int] = []
    pooled = pairpool.match_pairs(feature_files, pairs, workers=2, progress=done.append)
    assert _same(alone, pooled) and sum(done) == len(pairs)
    assert max(m.inliers for m in alone) >= 35  # church photos overlap: real matches ...
    assert min(m.inliers for m in alone) < 35  # ... and church vs castle does not
    loaded = [Features.from_bytes(f.read_bytes()) for f in feature_files]
    assert _same(alone, pairpool.match_pairs(feature_files, pairs, features=loaded, workers=1))


def _die(pairs: list[tuple[str, str]]) -> list[PairMatch]:
    os._exit(3)  # a worker killed mid-task (out of memory, SIGKILL)


def test_dead_workers_leave_the_work_to_this_process(
    feature_files: list[Path], pool_always: None, monkeypatch: pytest.MonkeyPatch
):
    pairs = _pairs(len(feature_files))
    expected = pairpool.match_pairs(feature_files, pairs, workers=1)
    monkeypatch.setattr(pairpool, "_CHUNK_TASK", _die)
    done: list[int] = []
    assert _same(
        expected, pairpool.match_pairs(feature_files, pairs, workers=2, progress=done.append)
    )
    assert sum(done) == len(pairs)


def test_workers_that_cannot_start_leave_the_work_to_this_process(
    feature_files: list[Path], pool_always: None, monkeypatch: pytest.MonkeyPatch
):
    def no_processes(*args: object, **kwargs: object) -> None:
        raise OSError("cannot fork: resource temporarily unavailable")

    pairs = _pairs(len(feature_files))
    expected = pairpool.match_pairs(feature_files, pairs, workers=1)
    monkeypatch.setattr(pairpool, "ProcessPoolExecutor", no_processes)
    assert _same(expected, pairpool.match_pairs(feature_files, pairs, workers=2))


def test_bad_pairs_and_feature_lists_are_refused(feature_files: list[Path]):
    with pytest.raises(InvalidValueError):
        pairpool.match_pairs(feature_files, [(0, len(feature_files))])
    with pytest.raises(InvalidValueError):
        pairpool.match_pairs(feature_files, [(0, 1)], features=[])
    assert pairpool.match_pairs(feature_files, []) == []
