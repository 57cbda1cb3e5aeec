"""Running the `claimcheck` CLI in subprocesses against a test workspace (SQLite or PostgreSQL)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def cli_args(home: Path, db_url: str | None, *args: str) -> list[str]:
    db = [] if db_url is None else ["--db", db_url]
    return [sys.executable, "-m", "cases.cli", "--home", str(home), *db, *args]


def run_cli(
    home: Path, db_url: str | None, *args: str, timeout: float = 180
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        cli_args(home, db_url, *args),
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=timeout,
        env=os.environ | {"CLAIMCHECK_ACTOR": "tester"},
    )


def start_cli(home: Path, db_url: str | None, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        cli_args(home, db_url, *args),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env=os.environ | {"CLAIMCHECK_ACTOR": "tester"},
    )


def in_process_cli(
    home: Path,
    db_url: str | None,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> Callable[..., tuple[int, str, str]]:
    """The CLI run in this process (fast: no interpreter start), as `run(*args)` returning
    (exit code, stdout, stderr)."""
    from cases import cli
    from cases.cli import context

    db = [] if db_url is None else ["--db", db_url]

    def run(*args: str) -> tuple[int, str, str]:
        context._state.clear()
        monkeypatch.setattr(sys, "argv", ["claimcheck", "--home", str(home), *db, *args])
        monkeypatch.setenv("CLAIMCHECK_ACTOR", "tester")
        try:
            cli.main()
            code = 0
        except SystemExit as exc:
            code = int(exc.code or 0)
        finally:
            if "ws" in context._state:
                context._state["ws"].dispose()
        out = capsys.readouterr()
        return code, out.out, out.err

    return run
