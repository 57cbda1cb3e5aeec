"""The interface every check implements, and what it produces."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar, cast

from cases.originals import OriginalsCheck
from cases.snapshot import CaseSnapshot, ItemInfo
from evidence_store.db import Workspace
from verify.verdict import Verdict


@dataclass(frozen=True)
class FindingDraft:
    """A finding before it is stored: the check's conclusion and the measurements behind it."""

    check: str
    verdict: Verdict
    items: tuple[str, ...]
    values: dict[str, Any]
    detail: str
    artefacts: tuple[str, ...] = field(default_factory=tuple)


T = TypeVar("T")


class SharedAnalyses:
    """Per-item results more than one check reads (whether the EXIF thumbnail shows another
    picture: provenance, capture_time, gps_place), computed by whichever check asks first and
    kept for the rest of one verify run, so no file is decoded twice for the same question."""

    def __init__(self) -> None:
        self._results: dict[tuple[str, str], Any] = {}

    def get(self, name: str, item: ItemInfo, compute: Callable[[ItemInfo], T]) -> T:
        """`compute(item)` the first time `name` is asked of `item` in this run, else its result."""
        key = (name, item.code)
        if key not in self._results:
            self._results[key] = compute(item)
        return cast(T, self._results[key])

    def has(self, name: str, item: ItemInfo) -> bool:
        """Whether `name` was computed for `item` in this run."""
        return (name, item.code) in self._results

    def once(self, name: str, compute: Callable[[], T]) -> T:
        """`compute()` the first time `name` is asked in this run (e.g. an index over the
        workspace several checks search), else its result."""
        key = (name, "")
        if key not in self._results:
            self._results[key] = compute()
        return cast(T, self._results[key])


class ProgressTask(Protocol):
    def advance(self, steps: int = 1) -> None: ...


class Progress(Protocol):
    def task(self, description: str, total: int | None) -> ProgressTask: ...


class _NoTask:
    def advance(self, steps: int = 1) -> None:
        pass


class NoProgress:
    """Progress sink for library callers and tests: records nothing."""

    def task(self, description: str, total: int | None) -> ProgressTask:
        return _NoTask()


@dataclass
class CheckContext:
    ws: Workspace
    case: CaseSnapshot
    progress: Progress
    # Items of every case in the workspace, loaded on demand (recycled-footage search).
    workspace_items: Callable[[], list[Any]]
    # Re-hashes an original before its pixels are read (None: trust the store, as unit tests
    # of a single check do). The case's own items reach a check already re-hashed.
    originals: OriginalsCheck | None = None
    # Per-item analyses several checks read, made once in this run (cases.checks.foreign_exif).
    shared: SharedAnalyses = field(default_factory=SharedAnalyses)


class Check(Protocol):
    name: str
    title: str

    def examines(self, item: ItemInfo) -> bool:
        """Whether this check reads `item` (so owes it a finding when its original is damaged)."""
        ...

    def run(self, ctx: CheckContext) -> list[FindingDraft]: ...
