"""Progress bars for long commands, drawn on stderr so stdout stays a clean document or id."""

from __future__ import annotations

import sys
from types import TracebackType
from typing import Any

from cases.cli.output import raw_stream


class _RichTask:
    def __init__(self, bar: Any, task_id: Any) -> None:
        self._bar, self._id = bar, task_id

    def advance(self, steps: float = 1) -> None:
        self._bar.advance(self._id, steps)


class RichProgress:
    """Progress bars on stderr, so stdout stays a clean JSON document or id."""

    def __init__(self) -> None:
        from rich.console import Console
        from rich.progress import Progress

        console = Console(file=raw_stream(sys.stderr))
        # Off a terminal (pipes, logs, tests) a bar is noise: stderr carries only messages.
        self._bar = Progress(console=console, transient=True, disable=not console.is_terminal)

    def __enter__(self) -> RichProgress:
        self._bar.__enter__()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._bar.__exit__(exc_type, exc, tb)

    def task(self, description: str, total: float | None) -> _RichTask:
        return _RichTask(self._bar, self._bar.add_task(description, total=total))


def video_progress(progress: RichProgress) -> Any:
    """A keyframe-extraction callback that shows one bar per video, in seconds decoded."""
    tasks: dict[str, tuple[_RichTask, list[float]]] = {}

    def report(name: str, done: float, total: float) -> None:
        if name not in tasks:
            tasks[name] = (progress.task(f"keyframes of {name}", total or None), [0.0])
        task, last = tasks[name]
        task.advance(max(0.0, done - last[0]))
        last[0] = max(last[0], done)

    return report
