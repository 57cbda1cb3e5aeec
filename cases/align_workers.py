"""Worker processes that align pairs of stored pictures for the same-picture search
(`cases.search_pool`), with what they need to read the pictures themselves.

Workers read each picture's cached ORB features from the derived store (and its pixels from
the originals or keyframes, when a pair gets that far), rather than receive them: a 1,000-picture
search would otherwise send ~50 MB of features, or its grey pictures, to each worker. They import
only this module and what reading pictures needs, not the database layer (~0.5 s less CPU per
worker start).
"""

from __future__ import annotations

import functools
import multiprocessing
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass

import cv2

from cases.stored_pictures import stored_features
from evidence_store.blobs import BlobStore, DerivedStore
from verify.errors import VerifyError
from verify.samepicture import PictureAlignment, PictureFeatures, align_pictures
from verify.worker_exit import exit_with_parent

# Worker processes: the scale target's 2 cores (the planning process shares them).
WORKERS = 2

# A stored picture as workers name it: SHA-256, item kind, frame index.
FrameRef = tuple[str, str, int]
# An alignment to make: the query's picture, the stored picture aligned with it, mirrored?
Job = tuple[FrameRef, FrameRef, bool]


@dataclass(frozen=True)
class PictureSource:
    """Where workers read stored pictures: the originals, the derived store, whether an
    original must be intact (`OriginalsCheck`) before its pixels are read, and whether what
    workers make of a picture may be cached in the derived store (not in a read-only
    workspace)."""

    blobs: BlobStore
    derived: DerivedStore
    check_originals: bool
    write: bool = False


_source: PictureSource | None = None
_problems: dict[str, str | None] = {}


class _KnownOriginals:
    """The planning process's `OriginalsCheck` verdicts, sent with each task."""

    def problem(self, sha256: str) -> str | None:
        if sha256 not in _problems:
            assert _source is not None
            _problems[sha256] = _source.blobs.verify(sha256)
        return _problems[sha256]

    def intact(self, sha256: str) -> bool:
        return self.problem(sha256) is None


def _start_worker(source: PictureSource) -> None:
    global _source
    exit_with_parent()
    # One OpenCV thread per worker: the workers are the parallelism.
    cv2.setNumThreads(1)
    _source = source


@functools.lru_cache(maxsize=1024)
def _features(sha256: str, kind: str, frame_index: int) -> PictureFeatures | None:
    assert _source is not None
    originals = _KnownOriginals() if _source.check_originals else None
    # The planning process read (and cached) every picture's features before its job; the
    # grey pixels, which only a worker reads when the search runs on workers, are cached here.
    return stored_features(
        _source.blobs, _source.derived, originals, sha256, kind, frame_index, write=_source.write
    )


def _align_chunk(jobs: list[Job], problems: dict[str, str | None]) -> list[PictureAlignment | None]:
    """Each job's alignment, or None where it could not be made here (the planning process
    then makes it, raising what the serial search raises)."""
    _problems.update(problems)
    out: list[PictureAlignment | None] = []
    for query, frame, flip in jobs:
        mine, theirs = _features(*query), _features(*frame)
        if mine is None or theirs is None:
            out.append(None)
            continue
        try:
            out.append(align_pictures(theirs, mine, mirrored=flip))
        except VerifyError:
            out.append(None)
    return out


class AlignmentPool:
    """Worker processes that align jobs; `broken` once one died or they could not start (the
    caller then aligns in its own process)."""

    def __init__(self, source: PictureSource, workers: int = WORKERS) -> None:
        self._source = source
        self._workers = workers
        self._pool: ProcessPoolExecutor | None = None
        self.broken = False

    @property
    def running(self) -> bool:
        return self._pool is not None

    def start(self) -> bool:
        try:
            # spawn, not fork: a child forked after OpenCV started its threads can deadlock.
            self._pool = ProcessPoolExecutor(
                self._workers,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_start_worker,
                initargs=(self._source,),
            )
        except (OSError, ValueError):
            self.broken = True
        return self._pool is not None

    def submit(
        self, jobs: list[Job], problems: dict[str, str | None]
    ) -> Future[list[PictureAlignment | None]] | None:
        if self._pool is None:
            return None
        try:
            return self._pool.submit(_align_chunk, jobs, problems)
        except (BrokenProcessPool, OSError, RuntimeError):
            self.fail()
            return None

    def fail(self) -> None:
        """A worker died (killed, out of memory) or could not be reached: stop using them."""
        self.broken = True
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
