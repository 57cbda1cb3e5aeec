"""The same-picture search of many stored pictures, with the pixel alignments on worker
processes and the results of the one-process search.

A verify run searches every picture of a case (`FrameIndex.find` once per picture); in a case
of 1,000 walk-through frames that is ~65 ms of anchor votes and 4-80 alignments of ~9-15 ms
each per picture, on one core of the scale target's 2. Alignments between stored pictures are
cached (`AlignmentStore`), and one made when either picture was the query is reused when the
other is searched, so which pairs are aligned, and in which direction, depends on the order of
the queries. The search is therefore split in three, all in the serial order:

- plan: each query's first stage (`FrameIndex.candidates`: hashes and anchor votes, which never
  depend on an alignment), then its second stage dry-run against a copy of the cache in which
  every alignment the serial search would make is recorded as a job (with a placeholder result,
  so that later queries reuse it as the serial search would);
- execute: the jobs go to worker processes as they are planned
  (`cases.align_workers.AlignmentPool`), which read the pictures from the store themselves;
- assemble: each query's second stage runs for real (`FrameIndex.confirm`), in order, with the
  workers' results in place of `align_pictures`. It is the serial code: a job the plan did not
  foresee, or a worker could not finish, is aligned here, so the findings and the cache files
  are the serial search's whatever happens to the workers.

Small searches stay in this process: workers start only once the alignments still to come are
estimated to pay for their start-up (`MIN_PAIRS_FOR_WORKERS`).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field

from cases.align_workers import WORKERS, AlignmentPool, FrameRef, Job, PictureSource
from cases.search import (
    AlignmentStore,
    Candidates,
    FrameIndex,
    FrameMatch,
    QueryPicture,
    StoredFrame,
    align_in_process,
    pair_key,
)
from cases.stored_pictures import OriginalsState
from verify.samepicture import PictureAlignment, PictureFeatures

# Workers start once this many alignments are still expected. Their cost grows with the
# pictures, not the pairs: start-up (~0.5 s of CPU per worker, a fresh interpreter importing
# OpenCV and faiss; ~1 s more under the CLI, whose script each spawned worker imports again) and
# each worker reading the features and pixels of the pictures it aligns; an alignment itself is
# ~4-7 ms (with faiss). benchmarks/bench_same_pictures.py (102 photos, 354 alignments, dev set
# only): 4.6 s of CPU on one process, 3.2 s here + 5.1 s in workers with them, so a search of a
# few hundred pairs gains nothing; with ~1,000 the workers' ~5 s of alignments outweigh it.
MIN_PAIRS_FOR_WORKERS = 1000

# The expected count is extrapolated from the queries planned so far: not from fewer than this.
MIN_QUERIES_FOR_ESTIMATE = 3

# Alignments per task sent to a worker: ~50-150 ms of work, so that sending a task costs
# little next to it and the two workers stay balanced.
CHUNK = 12

# A placeholder for an alignment the plan expects to make: later queries of the plan find it
# where the serial search would find the real one; its values are never reported.
_PLANNED = PictureAlignment(False, 0, 1.0, 0.0, 0.0, 0.0, False)


@dataclass
class SearchReport:
    """How a search's alignments were made (for tests and measurements)."""

    queries: int = 0
    in_workers: int = 0  # alignments made by worker processes
    here: int = 0  # alignments made in this process
    workers_started: bool = False
    fell_back: bool = False  # workers failed and this process finished their work


def _ref(frame: StoredFrame) -> FrameRef:
    return (frame.item.sha256, frame.item.kind, frame.frame_index)


def _job(query_frame: StoredFrame | None, frame: StoredFrame, flip: bool) -> Job | None:
    return None if query_frame is None else (_ref(query_frame), _ref(frame), flip)


class _PlannedAlignments:
    """A copy of an `AlignmentStore` that the plan fills with placeholders: each file is copied
    when first asked for and never written back."""

    def __init__(self, store: AlignmentStore) -> None:
        self._store = store
        self._files: dict[tuple[str, int], dict[str, PictureAlignment]] = {}

    def load(self, sha256: str, frame_index: int) -> dict[str, PictureAlignment]:
        if (sha256, frame_index) not in self._files:
            self._files[sha256, frame_index] = dict(self._store.load(sha256, frame_index))
        return self._files[sha256, frame_index]

    def reverse(
        self, query: StoredFrame, candidate: StoredFrame, mirrored: bool
    ) -> PictureAlignment | None:
        # Only whether there is one matters to the plan, not its values: not inverted.
        return self.load(candidate.item.sha256, candidate.frame_index).get(
            pair_key(query, mirrored)
        )

    def save(self, sha256: str, frame_index: int, found: dict[str, PictureAlignment]) -> None:
        pass  # the placeholders stay in this copy (`load` returned the dict they were put in)


@dataclass
class _Planned:
    query: QueryPicture
    candidates: Candidates | None  # None: searched on hashes alone
    jobs: list[Job] = field(default_factory=list)


class _Search:
    """One search's plan, the jobs sent to workers and their results, and how far the queries
    are assembled."""

    def __init__(
        self,
        index: FrameIndex,
        pool: AlignmentPool,
        originals: OriginalsState | None,
        on_query: Callable[[int, list[FrameMatch]], None],
    ) -> None:
        self.index = index
        self.pool = pool
        self.originals = originals
        self.on_query = on_query
        store = index.alignments
        self.plan_store = _PlannedAlignments(store) if store is not None else None
        # Planned queries not assembled yet (dropped once assembled: each holds its picture).
        self.planned: deque[_Planned] = deque()
        self.planned_count = 0
        self.assembled = 0
        self.jobs_planned = 0
        self.unsent: list[Job] = []
        self.unsent_jobs: set[Job] = set()
        self.waiting: dict[Job, Future[list[PictureAlignment | None]]] = {}
        self.chunks: dict[Future[list[PictureAlignment | None]], list[Job]] = {}
        self.results: dict[Job, PictureAlignment | None] = {}
        self.report = SearchReport()

    def plan(self, query: QueryPicture) -> None:
        self.planned_count += 1
        if query.pixels is None or query.frame is None or not self.index.has_pixels:
            self.planned.append(_Planned(query, None))
            return
        candidates = self.index.candidates(query.hashes, query.pixels, query_frame=query.frame)
        planned = _Planned(query, candidates)

        def record(
            query_frame: StoredFrame | None,
            frame: StoredFrame,
            theirs: PictureFeatures,
            mine: PictureFeatures,
            flip: bool,
        ) -> PictureAlignment:
            job = _job(query_frame, frame, flip)
            if job is not None:
                planned.jobs.append(job)
            return _PLANNED

        self.index.confirm(candidates, query_frame=query.frame, store=self.plan_store, align=record)
        self.planned.append(planned)
        self.jobs_planned += len(planned.jobs)
        if self.pool.running:
            self.unsent += planned.jobs
            self.unsent_jobs.update(planned.jobs)
            if len(self.unsent) >= CHUNK:
                self.send()

    def send(self) -> None:
        while self.unsent and self.pool.running:
            jobs, self.unsent = self.unsent[:CHUNK], self.unsent[CHUNK:]
            self.unsent_jobs.difference_update(jobs)
            problems: dict[str, str | None] = {}
            if self.originals is not None:
                # Known already: planning read both pictures' cached alignments, which
                # re-hashes their originals (`AlignmentStore`).
                for query, frame, _ in jobs:
                    for sha256 in (query[0], frame[0]):
                        problems[sha256] = self.originals.problem(sha256)
            future = self.pool.submit(jobs, problems)
            if future is None:
                self.report.fell_back = True
                break
            self.chunks[future] = jobs
            for job in jobs:
                self.waiting[job] = future
        if not self.pool.running:
            # No workers (any more): these are aligned here when their queries are assembled.
            self.unsent, self.unsent_jobs = [], set()

    def assemble(self, *, block: bool) -> None:
        """Run the second stage of every planned query whose jobs are done, in order (with
        `block`, of every planned query, waiting for the workers)."""
        if block:
            self.send()
        while self.planned:
            planned = self.planned[0]
            if not block and self.unsent_jobs.intersection(planned.jobs):
                return
            for job in planned.jobs:
                future = self.waiting.get(job)
                if future is None:
                    continue
                if not block and not future.done():
                    return
                self._harvest(future)
            self.on_query(self.assembled, self._confirm(planned))
            self.planned.popleft()
            self.assembled += 1

    def _harvest(self, future: Future[list[PictureAlignment | None]]) -> None:
        jobs = self.chunks.pop(future, None)
        if jobs is None:
            return  # harvested already
        try:
            found = future.result()
        except (BrokenProcessPool, OSError):
            # Every job not yet done is aligned in this process when its query is assembled.
            self.pool.fail()
            self.report.fell_back = True
            self.waiting.clear()
            self.chunks.clear()
            self.unsent, self.unsent_jobs = [], set()
            return
        for job, alignment in zip(jobs, found, strict=True):
            self.waiting.pop(job, None)
            self.results[job] = alignment

    def _confirm(self, planned: _Planned) -> list[FrameMatch]:
        query = planned.query
        if planned.candidates is None:
            return self.index.find(query.hashes, query.pixels, query_frame=query.frame)

        def align(
            query_frame: StoredFrame | None,
            frame: StoredFrame,
            theirs: PictureFeatures,
            mine: PictureFeatures,
            flip: bool,
        ) -> PictureAlignment:
            job = _job(query_frame, frame, flip)
            made = self.results.pop(job, None) if job is not None else None
            if made is not None:
                self.report.in_workers += 1
                return made
            self.report.here += 1
            return align_in_process(query_frame, frame, theirs, mine, flip)

        return self.index.confirm(planned.candidates, query_frame=query.frame, align=align)

    def worth_workers(self, total: int) -> bool:
        done = self.planned_count
        if self.pool.running or self.pool.broken or done < MIN_QUERIES_FOR_ESTIMATE:
            return False
        expected = self.jobs_planned * (total - done) / max(done, 1)
        return expected >= MIN_PAIRS_FOR_WORKERS


def search_stored(
    index: FrameIndex,
    queries: Sequence[QueryPicture],
    source: PictureSource,
    on_query: Callable[[int, list[FrameMatch]], None],
    *,
    originals: OriginalsState | None = None,
    workers: int | None = None,
) -> SearchReport:
    """`index.find` of each query, in order, as `on_query(k, matches)` for the k-th, with the
    same results and the same alignment cache as calling it query by query; alignments on
    `workers` processes (default `WORKERS`) when there are enough of them. `originals`: the run's
    `OriginalsCheck`, whose verdicts the workers reuse (`source.check_originals` says whether
    there is one)."""
    workers = WORKERS if workers is None else workers
    pool = AlignmentPool(source, workers)
    search = _Search(index, pool, originals, on_query)
    try:
        for query in queries:
            if workers >= 2 and search.worth_workers(len(queries)):
                # The queries planned so far are aligned here; the rest go to the workers.
                started = pool.start()
                search.report.workers_started = started
                search.report.fell_back = not started
            search.plan(query)
            search.assemble(block=False)
        search.assemble(block=True)
    finally:
        pool.close()
    search.report.queries = len(queries)
    return search.report
