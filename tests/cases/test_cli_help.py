"""Every command, argument and option of `claimcheck` says what it is for in `--help`."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import typer

from cases.cli import app

ROOT = Path(__file__).resolve().parents[2]


def _commands(command: Any, path: str = "claimcheck") -> Iterator[tuple[str, Any]]:
    """Every command under `command` (typer's own click types: groups have `commands`)."""
    yield path, command
    if hasattr(command, "commands"):
        for name, sub in command.commands.items():
            yield from _commands(sub, f"{path} {name}")


def test_every_command_and_parameter_has_help():
    missing = []
    for path, command in _commands(typer.main.get_command(app)):
        if not (command.help or "").strip():
            missing.append(path)
        for param in command.params:
            if not (getattr(param, "help", None) or "").strip():
                missing.append(f"{path} {param.name}")
    assert missing == []


@pytest.mark.parametrize(
    ("args", "words"),
    [
        ((), ["Commands", "site", "Register, inspect and correct", "--actor", "custody log"]),
        (("site", "edit"), ["--claimed", "--not-claimed", "metres around the site's point"]),
        (("evidence", "unlink"), ["--role", "recorded by mistake", "--site"]),
        (("site", "add"), ["--radius", "metres around the site's point", "reference photo"]),
    ],
)
def test_help_renders(args: tuple[str, ...], words: list[str]):
    shown = subprocess.run(
        [sys.executable, "-m", "cases.cli", *args, "--help"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
        env={"COLUMNS": "100", "PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)},
    )
    assert shown.returncode == 0, shown.stderr
    flat = " ".join(shown.stdout.replace("│", " ").split()).lower()
    for word in words:
        assert word.lower() in flat, (word, shown.stdout)
