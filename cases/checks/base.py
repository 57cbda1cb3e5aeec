"""The interface every check implements, and what it produces."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from cases.snapshot import CaseSnapshot
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


class Check(Protocol):
    name: str
    title: str

    def run(self, ctx: CheckContext) -> list[FindingDraft]: ...
