"""Geometric verification of many image pairs on several processes.

`match_pair` is CPU-bound Python around OpenCV calls that hold the GIL for part of their time,
so threads do not scale; processes do. Workers are spawned (a child forked after OpenCV started
its thread pool can deadlock) and read each image's features from its serialised file
(`Features.to_bytes`), so nothing large is pickled to them: a case's features can exceed a
gigabyte. When workers cannot start or die, the remaining pairs are verified in this process,
so the result never depends on whether the pool worked: `match_pair` is deterministic.
"""

from __future__ import annotations

import multiprocessing
import os
from collections import OrderedDict
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

import cv2

from verify.errors import InvalidValueError
from verify.features import Features
from verify.geometry import PairMatch, match_pair

# Below this many pairs, starting interpreters (about a second each, importing OpenCV) costs
# more than it saves: a pair takes 20-90 ms (benchmarks/RESULTS.md, site matching).
MIN_PAIRS_FOR_POOL = 48
# Pairs per task: small enough to balance two workers and report progress often, large enough
# that pairs sharing their first image reuse its search index inside one worker.
CHUNK_PAIRS = 16
# Features a worker keeps loaded: chunks are grouped by first image, so a few suffice.
_WORKER_CACHE = 64

ProgressCallback = Callable[[int], None]


def default_workers() -> int:
    """The CPUs this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def match_pairs(
    feature_files: Sequence[Path],
    pairs: Sequence[tuple[int, int]],
    *,
    features: Sequence[Features] | None = None,
    workers: int | None = None,
    progress: ProgressCallback | None = None,
) -> list[PairMatch]:
    """`match_pair(F[i], F[j])` for each (i, j) in `pairs`, in order, where F[k] is the
    Features serialised in `feature_files[k]`.

    `features`, when given, are those same Features already loaded (used when verifying in this
    process). `progress` is called with the number of pairs just finished.
    """
    if features is not None and len(features) != len(feature_files):
        raise InvalidValueError(f"{len(features)} features for {len(feature_files)} files")
    for i, j in pairs:
        if not (0 <= i < len(feature_files) and 0 <= j < len(feature_files)):
            raise InvalidValueError(f"pair ({i}, {j}) outside {len(feature_files)} images")
    count = default_workers() if workers is None else workers
    order = sorted(range(len(pairs)), key=lambda k: pairs[k])
    chunks = [order[k : k + CHUNK_PAIRS] for k in range(0, len(order), CHUNK_PAIRS)]
    results: list[PairMatch | None] = [None] * len(pairs)
    files = [str(f) for f in feature_files]
    if count > 1 and len(pairs) >= MIN_PAIRS_FOR_POOL:
        _run_pool(files, pairs, chunks, results, min(count, len(chunks)), progress)
    loader = _Loader(files, features)
    for chunk in chunks:
        if results[chunk[0]] is not None:
            continue
        for k in chunk:
            i, j = pairs[k]
            results[k] = match_pair(loader.get(i), loader.get(j))
        if progress is not None:
            progress(len(chunk))
    return [r for r in results if r is not None]


def _run_pool(
    files: list[str],
    pairs: Sequence[tuple[int, int]],
    chunks: list[list[int]],
    results: list[PairMatch | None],
    workers: int,
    progress: ProgressCallback | None,
) -> None:
    """Fill `results` for the chunks the pool finishes; leave the rest None."""
    try:
        executor = ProcessPoolExecutor(
            workers, mp_context=multiprocessing.get_context("spawn"), initializer=_init_worker
        )
    except (OSError, ValueError):
        return
    with executor:
        try:
            pending: dict[Future[list[PairMatch]], list[int]] = {
                executor.submit(
                    _CHUNK_TASK, [(files[pairs[k][0]], files[pairs[k][1]]) for k in chunk]
                ): chunk
                for chunk in chunks
            }
        except (OSError, BrokenProcessPool, RuntimeError):
            executor.shutdown(wait=False, cancel_futures=True)
            return
        while pending:
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                chunk = pending.pop(future)
                try:
                    matches = future.result()
                except (BrokenProcessPool, OSError):
                    # A worker died (killed, out of memory): the caller verifies what is left.
                    executor.shutdown(wait=False, cancel_futures=True)
                    return
                for k, match in zip(chunk, matches, strict=True):
                    results[k] = match
                if progress is not None:
                    progress(len(chunk))


def _init_worker() -> None:
    # Two processes each running OpenCV's own thread pool would oversubscribe the cores.
    cv2.setNumThreads(1)


class _Loader:
    """Features by index: the ones given, or loaded from their files through `_load`."""

    def __init__(self, files: Sequence[str], loaded: Sequence[Features] | None) -> None:
        self._files = files
        self._loaded = loaded

    def get(self, index: int) -> Features:
        if self._loaded is not None:
            return self._loaded[index]
        return _load(self._files[index])


# A process's recently loaded features by file; chunks are grouped by first image, so the
# features (and the search index `match_pair` caches per Features object) are reused.
_loaded: OrderedDict[str, Features] = OrderedDict()


def _load(path: str) -> Features:
    hit = _loaded.get(path)
    if hit is None:
        hit = Features.from_bytes(Path(path).read_bytes())
        _loaded[path] = hit
        while len(_loaded) > _WORKER_CACHE:
            _loaded.popitem(last=False)
    _loaded.move_to_end(path)
    return hit


def _match_chunk(pairs: list[tuple[str, str]]) -> list[PairMatch]:
    """Worker task: verify each pair of feature files."""
    return [match_pair(_load(a), _load(b)) for a, b in pairs]


# What workers run; a module attribute so tests can make a worker die.
_CHUNK_TASK: Callable[[list[tuple[str, str]]], list[PairMatch]] = _match_chunk
