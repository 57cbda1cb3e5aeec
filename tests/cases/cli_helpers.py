"""Running the `claimcheck` CLI in subprocesses against a test workspace (SQLite or PostgreSQL)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

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
